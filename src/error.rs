//! The one error type of the HTTP layer, and the one place where a service's
//! error becomes an HTTP status.
//!
//! Policy:
//! - every error answer is JSON `{"error": "<stable code>", "message": "<for humans>"}`;
//! - input problems are 400 with a specific code; auth is 401 (no or unknown
//!   key) or 403 (known, not allowed); another org's resources are 404, exactly
//!   like missing ones, so keys cannot probe for tenants;
//! - a state that forbids the action is 409; Zoom refusing our input is 422;
//!   Zoom not answering is 503 with `Retry-After`;
//! - internal failures are logged with their detail and answered with a
//!   generic message, so no database text, ciphertext or upstream body ever
//!   reaches a caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::service::ServiceError;
use crate::store::StoreError;
use crate::tokens::TokenError;

// The OpenAPI document's `Error` schema derives from this very type.
/// Every error answer: a stable code, and a message for humans.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// A stable, machine-readable code such as `not_found` or `invalid_email`.
    pub error: &'static str,
    /// A sentence for humans; never a secret, a token or a database detail.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API key")]
    Unauthorized,
    #[error("{0}")]
    KeyExpired(String),
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("no Zoom connection, Server-to-Server credentials or JWT key for this user")]
    NotConnected,
    #[error("{0}")]
    ReauthorizationRequired(String),
    #[error("the legacy JWT key stopped working at {0}; authorize the Zoom OAuth app instead")]
    JwtCutoffPassed(String),
    #[error("Zoom is unavailable: {detail}")]
    UpstreamUnavailable {
        detail: String,
        retry_after_secs: u64,
    },
    /// Over a Zoom account's rate budget (429, with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The database is unreachable or restarting; detail for the log only.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// Detail for the log only; callers see a generic message.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::KeyExpired(_) => (StatusCode::UNAUTHORIZED, "api_key_expired"),
            Self::InsufficientScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::NotConnected => (StatusCode::NOT_FOUND, "not_connected"),
            Self::ReauthorizationRequired(_) => (StatusCode::CONFLICT, "reauthorization_required"),
            Self::JwtCutoffPassed(_) => (StatusCode::GONE, "jwt_cutoff_passed"),
            Self::UpstreamUnavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable")
            }
            Self::DatabaseUnavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Unauthenticated => Self::Unauthorized,
            err @ ServiceError::KeyExpired(_) => Self::KeyExpired(err.to_string()),
            ServiceError::InsufficientScope(message) => Self::InsufficientScope(message),
            ServiceError::Invalid { code, message } => Self::BadRequest { code, message },
            ServiceError::NotFound(message) => Self::NotFound(message),
            ServiceError::Forbidden(message) => Self::Forbidden(message),
            ServiceError::Conflict { code, message } => Self::Conflict { code, message },
            ServiceError::Rejected { code, message } => Self::Unprocessable { code, message },
            ServiceError::Unavailable {
                detail,
                retry_after_secs,
            } => Self::UpstreamUnavailable {
                detail,
                retry_after_secs,
            },
            ServiceError::DatabaseUnavailable(detail) => Self::DatabaseUnavailable(detail),
            ServiceError::RateLimited {
                message,
                retry_after_secs,
            } => Self::RateLimited {
                message,
                retry_after_secs,
            },
            ServiceError::Token(err) => err.into(),
            ServiceError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotConnected => Self::NotConnected,
            TokenError::Reauth(reason) => Self::ReauthorizationRequired(reason),
            TokenError::JwtCutoffPassed(at) => Self::JwtCutoffPassed(crate::domain::rfc3339(at)),
            TokenError::DatabaseUnavailable(detail) => Self::DatabaseUnavailable(detail),
            TokenError::Unavailable {
                retry_after_secs,
                detail,
            } => Self::UpstreamUnavailable {
                detail,
                retry_after_secs,
            },
            TokenError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::DatabaseUnavailable(err.to_string())
        } else {
            Self::internal(err)
        }
    }
}

/// What a caller is told to wait when the database is unavailable.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 2;

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(err: crate::crypto::CryptoError) -> Self {
        Self::internal(format!("stored secret could not be opened: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "something went wrong on our side; the error has been logged".to_string()
            }
            Self::UpstreamUnavailable { detail, .. } => {
                tracing::warn!(%detail, "upstream unavailable");
                "Zoom did not answer in time; try again shortly".to_string()
            }
            Self::DatabaseUnavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                "the database is unavailable; try again shortly".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message,
            }),
        )
            .into_response();
        let retry_after = match self {
            Self::UpstreamUnavailable {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            Self::DatabaseUnavailable(_) => Some(DATABASE_RETRY_AFTER_SECS),
            Self::RateLimited {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

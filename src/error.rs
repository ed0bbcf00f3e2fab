//! The one error type of the HTTP layer.
//!
//! Each variant maps to a status and a stable `error` code. Internal failures
//! are logged with their detail and answered with a generic message, so no
//! database text, ciphertext or upstream body ever reaches a caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or unknown API key")]
    Unauthorized,
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
    /// The database is unreachable or restarting; detail for the log only.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
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
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
        let mut response =
            (status, Json(json!({ "error": code, "message": message }))).into_response();
        let retry_after = match self {
            Self::UpstreamUnavailable {
                retry_after_secs, ..
            } => Some(retry_after_secs),
            Self::DatabaseUnavailable(_) => Some(DATABASE_RETRY_AFTER_SECS),
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

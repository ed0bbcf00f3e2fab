//! HTTP plumbing shared by the adapters (`api/`, `admin/`, `flow/`,
//! `webhooks.rs`): extractors whose failures are JSON errors, the views of
//! domain records that answers show, and the readable pages for browsers.
//! It holds no use case; those live in `service/`.

pub mod bodies;
pub mod cookies;
pub mod form_guard;
pub mod oauth_app_body;
pub mod pages;
pub mod sdk_bodies;
pub mod views;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;

use crate::domain::InvalidValue;
use crate::error::ApiError;

/// JSON body extractor whose failures are API errors, not plain text.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => ApiError::bad_request("invalid_body", rejection.body_text()),
        }
    }
}

/// Query-string extractor whose failures are `400 invalid_query` in JSON.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul(parts.uri.query(), "invalid_query", "the query")?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// Path-parameter extractor whose failures (e.g. a segment that is not
/// UTF-8 once percent-decoded) are `400 invalid_path` in JSON.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        refuse_nul(Some(parts.uri.path()), "invalid_path", "a path segment")?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// PostgreSQL cannot hold NUL in text, so a slug or id with one would fail
/// in the database rather than be "not found"; and no value we issue has one.
/// A URI carries NUL only percent-encoded.
fn refuse_nul(raw: Option<&str>, code: &'static str, what: &str) -> Result<(), ApiError> {
    if raw.is_some_and(|raw| raw.contains("%00")) {
        return Err(ApiError::bad_request(
            code,
            format!("{what} contains a NUL character (%00)"),
        ));
    }
    Ok(())
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection.status() {
            // A handler asking for a parameter its route lacks is our bug, not the caller's.
            StatusCode::INTERNAL_SERVER_ERROR => ApiError::internal(rejection.body_text()),
            _ => ApiError::bad_request("invalid_path", rejection.body_text()),
        }
    }
}

/// Maps a domain parse failure to a 400 with the given code.
pub fn invalid(code: &'static str) -> impl Fn(InvalidValue) -> ApiError {
    move |e| ApiError::bad_request(code, e.to_string())
}

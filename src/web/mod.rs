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
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

/// Path-parameter extractor whose failures (e.g. a segment that is not
/// UTF-8 once percent-decoded) are `400 invalid_path` in JSON.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

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

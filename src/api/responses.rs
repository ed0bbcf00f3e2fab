//! Error answers shared by many operations, for the OpenAPI document.
//!
//! These types only describe answers: `ApiError` builds the real ones, with
//! the same `ErrorBody`. Statuses specific to one operation are listed on
//! the operation itself.

// Never constructed: each variant names a status `ApiError` can answer.
#![allow(dead_code)]

use utoipa::IntoResponses;

use crate::error::ErrorBody;

/// What any `/api/v1` call may answer, whatever it does.
#[derive(IntoResponses)]
pub enum Always {
    /// `unauthorized`: no `Authorization: Bearer` header, or an unknown or
    /// revoked API key; `api_key_expired`: the key's expiry has passed.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `insufficient_scope`: the key lacks the scope this call needs; or
    /// `forbidden`: an operator-wide call with a key limited to one org.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `internal`: something failed on our side. The detail is in the server's
    /// log, never in the answer.
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// What a call with a JSON body may also answer.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// `payload_too_large`: the body is over 64 KiB.
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// `unsupported_media_type`: the body is not sent as `Content-Type: application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
}

//! The internal API (`/api/v1`), for the CRM's backends. Every call carries
//! `Authorization: Bearer <api key>`; every error is `{error, message}`.

mod admin_links;
pub mod audit;
pub mod auth;
mod connect_sessions;
pub mod connections;
pub mod credentials;
mod migration_report;
mod openapi;
mod tokens;

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::routing::{get, post, put};
use axum::Router;

use crate::app::AppState;
use crate::error::ApiError;

pub use auth::{new_api_key, Caller};
pub use connect_sessions::issue as connect_sessions_issue;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/connect-sessions", post(connect_sessions::create))
        .route(
            "/api/v1/orgs/{org}/users/{email}/token",
            get(tokens::get_token),
        )
        .route("/api/v1/orgs/{org}/connections", get(connections::list))
        .route(
            "/api/v1/orgs/{org}/connections/{id}",
            get(connections::show).delete(connections::disconnect),
        )
        .route(
            "/api/v1/orgs/{org}/jwt-credentials",
            put(credentials::put_jwt).delete(credentials::delete_jwt),
        )
        .route(
            "/api/v1/orgs/{org}/s2s-credentials",
            put(credentials::put_s2s).delete(credentials::delete_s2s),
        )
        .route("/api/v1/orgs/{org}/audit", get(audit::list))
        .route("/api/v1/orgs/{org}/admin-links", post(admin_links::create))
        .route("/api/v1/migration-report", get(migration_report::report))
}

/// JSON body extractor whose failures are API errors, not plain text.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("invalid_body", rejection.body_text())
        }
    }
}

/// Checks a required text field: present after trimming, and not absurdly long.
pub(crate) fn required(field: &'static str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} is required"),
        ));
    }
    if value.len() > max {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(value.to_string())
}

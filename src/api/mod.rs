//! The internal API (`/api/v1`), for the CRM's backends. Every call carries
//! `Authorization: Bearer <api key>`; every error is `{error, message}`.

mod admin_links;
mod audit;
mod auth;
mod connect_sessions;
mod connections;
mod credentials;
mod migration_report;
mod openapi;
mod tokens;

use axum::routing::{get, post, put};
use axum::Router;

use crate::app::AppState;

pub use auth::Caller;

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

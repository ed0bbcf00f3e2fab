//! The internal API (`/api/v1`), for the CRM's backends. Every call carries
//! `Authorization: Bearer <api key>`; every error is `{error, message}`.
//!
//! Routes are registered from each handler's `#[utoipa::path]` (method and
//! path), so a route cannot exist without its OpenAPI description.

mod accounts;
mod admin_links;
mod api_keys;
mod audit;
mod auth;
mod connect_sessions;
mod connections;
mod credentials;
mod events;
mod migration_report;
mod oauth_app;
mod proxy;
mod responses;
mod sdk;
mod tokens;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub use auth::Caller;

/// Name of the bearer security scheme in the OpenAPI document.
pub const SECURITY_SCHEME: &str = "apiKey";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect_sessions::create))
        .routes(routes!(tokens::get_token))
        .routes(routes!(connections::list))
        .routes(routes!(connections::show, connections::disconnect))
        .routes(routes!(
            credentials::put_jwt,
            credentials::delete_jwt,
            accounts::list_jwt
        ))
        .routes(routes!(
            credentials::put_s2s,
            credentials::delete_s2s,
            accounts::list_s2s
        ))
        .routes(routes!(accounts::delete_s2s_entry))
        .routes(routes!(accounts::delete_jwt_entry))
        .routes(routes!(sdk::put_sdk, sdk::delete_sdk))
        .routes(routes!(sdk::sign))
        .routes(routes!(audit::list))
        .routes(routes!(events::list))
        .routes(routes!(admin_links::create))
        .routes(routes!(migration_report::report))
        .routes(routes!(oauth_app::put, oauth_app::get, oauth_app::delete))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(
            proxy::user_get,
            proxy::user_post,
            proxy::user_put,
            proxy::user_patch,
            proxy::user_delete
        ))
        .routes(routes!(
            proxy::org_get,
            proxy::org_post,
            proxy::org_put,
            proxy::org_patch,
            proxy::org_delete
        ))
}

//! The admin console: static files from `public/`, a cookie-authenticated
//! JSON API under `/admin/api`, and one-time sign-in links.

mod console;
mod credentials;
mod oauth_app;
mod session;

use axum::http::{header, HeaderValue};
use axum::routing::{delete, get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

/// Our own scripts and styles only; no inline code, no third parties.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(public_dir: &std::path::Path) -> Router<AppState> {
    let files = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONSOLE_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .service(ServeDir::new(public_dir));
    Router::new()
        .route(
            "/admin/login/{token}",
            get(session::login_page).post(session::login),
        )
        .route("/admin/logout", post(session::logout))
        .route("/admin/api/overview", get(console::overview))
        .route("/admin/api/authorize", post(console::authorize))
        .route("/admin/api/connections", get(console::connections))
        .route("/admin/api/connections/{id}", delete(console::disconnect))
        .route("/admin/api/audit", get(console::audit))
        .route(
            "/admin/api/s2s-credentials",
            put(credentials::put_s2s).delete(credentials::delete_s2s),
        )
        .route(
            "/admin/api/jwt-credentials",
            put(credentials::put_jwt).delete(credentials::delete_jwt),
        )
        .route(
            "/admin/api/s2s-credentials/{email}",
            delete(credentials::delete_s2s_entry),
        )
        .route(
            "/admin/api/jwt-credentials/{email}",
            delete(credentials::delete_jwt_entry),
        )
        .route(
            "/admin/api/sdk-credentials",
            put(credentials::put_sdk).delete(credentials::delete_sdk),
        )
        .route("/admin/api/sdk-signature", post(credentials::sdk_signature))
        .route(
            "/admin/api/oauth-app",
            get(oauth_app::get)
                .put(oauth_app::put)
                .delete(oauth_app::delete),
        )
        .nest_service("/admin", files)
}

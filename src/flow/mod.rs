//! The browser side of authorization: `/connect/{token}` and `/oauth/callback`.
//!
//! `state` and the PKCE verifier are 256-bit random, single-use, short-lived,
//! and bound to the browser by an encrypted cookie scoped to the callback.

mod callback;
mod connect;

use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/connect/{token}",
            get(connect::show).post(connect::confirm),
        )
        .route("/oauth/callback", get(callback::finish))
        // The connect token and the OAuth code must never leak via Referer or a cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// The binding cookie's name includes part of the state's hash, so two
/// authorizations in two tabs of one browser do not overwrite each other.
pub(crate) fn binding_cookie_name(state_hash: &str) -> String {
    format!("tb_oauth_{}", &state_hash[..16])
}

//! `GET /connect/{token}`: use the one-time session, bind a fresh
//! authorization to this browser, and send it to Zoom.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use maud::html;

use crate::app::AppState;
use crate::service::connect::{self, PENDING_TTL_SECS};
use crate::service::Claim;
use crate::web::pages::{page, start_again, Tone};

use super::binding_cookie_name;

pub async fn start(
    State(app): State<AppState>,
    jar: PrivateCookieJar,
    Path(token): Path<String>,
) -> Response {
    let to_zoom = match connect::begin(&app, &token).await {
        Ok(Claim::Claimed(to_zoom)) => to_zoom,
        Ok(Claim::AlreadyUsed) => {
            return start_again(
                StatusCode::GONE,
                "This link was already used",
                "Each Zoom authorization link works once.",
            )
        }
        Ok(Claim::Expired) => {
            return start_again(
                StatusCode::GONE,
                "This link has expired",
                "Zoom authorization links are valid for 10 minutes.",
            )
        }
        Ok(Claim::Unknown) => {
            return start_again(
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "We do not recognise this authorization link.",
            )
        }
        Err(err) => {
            tracing::error!(%err, "connect failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                Tone::Error,
                "Something went wrong",
                html! { p { "We could not start the Zoom authorization. Please try again in a minute." } },
            );
        }
    };
    let cookie = Cookie::build((binding_cookie_name(&to_zoom.state_hash), to_zoom.state))
        .path("/oauth/callback")
        .http_only(true)
        .secure(app.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(PENDING_TTL_SECS))
        .build();
    tracing::info!(session_id = %to_zoom.session_id, app_type = %to_zoom.app_type, "redirecting to Zoom");
    (
        StatusCode::FOUND,
        [(header::LOCATION, to_zoom.authorize_url.to_string())],
        jar.add(cookie),
    )
        .into_response()
}

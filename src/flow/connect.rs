//! `GET /connect/{token}`: consume the one-time session, bind a fresh
//! authorization to this browser, and send it to Zoom.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use maud::html;
use oauth2::PkceCodeChallenge;

use crate::app::AppState;
use crate::crypto::{random_token, sha256_hex, Aad};
use crate::store::{Consumed, PendingAuthorization};

use super::pages::{page, start_again, Tone};
use super::{binding_cookie_name, PENDING_TTL_SECS};

pub async fn start(
    State(app): State<AppState>,
    jar: PrivateCookieJar,
    Path(token): Path<String>,
) -> Response {
    match begin(&app, jar, &token).await {
        Ok(response) => response,
        Err(response) => *response,
    }
}

async fn begin(
    app: &AppState,
    jar: PrivateCookieJar,
    token: &str,
) -> Result<Response, Box<Response>> {
    let now = app.clock.now();
    let internal = |err: &dyn std::fmt::Display| {
        tracing::error!(%err, "connect failed");
        Box::new(page(
            StatusCode::INTERNAL_SERVER_ERROR,
            Tone::Error,
            "Something went wrong",
            html! { p { "We could not start the Zoom authorization. Please try again in a minute." } },
        ))
    };
    let session = match app
        .store
        .consume_connect_session(&sha256_hex(token.as_bytes()), now)
        .await
    {
        Ok(Consumed::Claimed(session)) => session,
        Ok(Consumed::AlreadyUsed(_)) => {
            return Err(Box::new(start_again(
                StatusCode::GONE,
                "This link was already used",
                "Each Zoom authorization link works once.",
            )))
        }
        Ok(Consumed::Expired(_)) => {
            return Err(Box::new(start_again(
                StatusCode::GONE,
                "This link has expired",
                "Zoom authorization links are valid for 10 minutes.",
            )))
        }
        Ok(Consumed::Unknown) => {
            return Err(Box::new(start_again(
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "We do not recognise this authorization link.",
            )))
        }
        Err(err) => return Err(internal(&err)),
    };
    let Some(client_id) = app.config.zoom_client_id.as_deref() else {
        return Err(internal(&"ZOOM_CLIENT_ID is not configured"));
    };

    let state = random_token();
    let state_hash = sha256_hex(state.as_bytes());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let id = uuid::Uuid::new_v4().to_string();
    let pending = PendingAuthorization {
        pkce_verifier: app.keyring.seal_str(
            Aad::new("pending_authorizations", &id, "pkce_verifier"),
            verifier.secret(),
        ),
        id,
        session_id: session.id.clone(),
        org_id: session.org_id.clone(),
        state_hash: state_hash.clone(),
        email: session.email.clone(),
        app_type: session.app_type.clone(),
        return_to: session.return_to.clone(),
        expires_at: now + PENDING_TTL_SECS,
        used_at: None,
        created_at: now,
    };
    app.store
        .insert_pending_authorization(&pending)
        .await
        .map_err(|e| internal(&e))?;
    let url = app
        .zoom
        .authorize_url(
            client_id,
            &app.config.redirect_uri(),
            &state,
            challenge,
            app.config.zoom_scopes.as_deref(),
        )
        .map_err(|e| internal(&e))?;
    let cookie = Cookie::build((binding_cookie_name(&state_hash), state))
        .path("/oauth/callback")
        .http_only(true)
        .secure(app.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(PENDING_TTL_SECS))
        .build();
    tracing::info!(session_id = %session.id, app_type = %session.app_type, "redirecting to Zoom");
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, url.to_string())],
        jar.add(cookie),
    )
        .into_response())
}

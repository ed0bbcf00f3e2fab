//! `GET /oauth/callback`: Zoom's redirect target. Checks the browser
//! binding, exchanges the code once, and keeps the grant only when the Zoom
//! account is the one the CRM expects.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar};
use maud::html;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::{ct_eq, sha256_hex, Aad};
use crate::domain::Email;
use crate::store::{Consumed, PendingAuthorization};
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

use super::binding_cookie_name;
use super::pages::{page, start_again, Tone};

mod outcome;
use outcome::{finish_with, store_connection, Outcome};

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn finish(
    State(app): State<AppState>,
    jar: PrivateCookieJar,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return marketplace_install();
    };
    let state_hash = sha256_hex(state.as_bytes());
    let cookie_name = binding_cookie_name(&state_hash);
    let bound = jar
        .get(&cookie_name)
        .is_some_and(|c| ct_eq(c.value().as_bytes(), state.as_bytes()));
    if !bound {
        tracing::warn!("callback without a matching browser-binding cookie; nothing exchanged");
        return start_again(
            StatusCode::BAD_REQUEST,
            "We could not verify this authorization",
            "This page was opened in a different browser than the one that started the authorization, or the authorization expired.",
        );
    }
    let jar = jar.remove(Cookie::build(cookie_name).path("/oauth/callback"));
    let pending = match app
        .store
        .take_pending_authorization(&state_hash, app.clock.now())
        .await
    {
        Ok(Consumed::Claimed(p)) => p,
        Ok(Consumed::AlreadyUsed(_)) => {
            return (
                jar,
                start_again(
                    StatusCode::BAD_REQUEST,
                    "This authorization was already completed",
                    "Zoom's answer can be used only once.",
                ),
            )
                .into_response()
        }
        Ok(Consumed::Expired(_)) => {
            return (
                jar,
                start_again(
                    StatusCode::BAD_REQUEST,
                    "This authorization has expired",
                    "Authorizations must be completed within 10 minutes.",
                ),
            )
                .into_response()
        }
        Ok(Consumed::Unknown) => {
            return (
                jar,
                start_again(
                    StatusCode::BAD_REQUEST,
                    "We could not verify this authorization",
                    "We do not recognise this authorization.",
                ),
            )
                .into_response()
        }
        Err(err) => return (jar, internal_error(&err)).into_response(),
    };
    let outcome = complete(&app, &pending, &params).await;
    (jar, finish_with(&app, &pending, outcome).await).into_response()
}

async fn complete(
    app: &AppState,
    pending: &PendingAuthorization,
    params: &CallbackParams,
) -> Outcome {
    if let Some(error) = params.error.as_deref() {
        return if error == "access_denied" {
            Outcome::Cancelled
        } else {
            Outcome::ZoomError(
                params
                    .error_description
                    .clone()
                    .unwrap_or_else(|| error.to_string()),
            )
        };
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        return Outcome::ZoomError("Zoom did not send an authorization code".into());
    };
    let (Some(client_id), Some(client_secret)) =
        (&app.config.zoom_client_id, &app.config.zoom_client_secret)
    else {
        return Outcome::Internal(
            "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET are not configured".into(),
        );
    };
    let auth = ClientAuth {
        client_id,
        client_secret,
    };
    let verifier = match app.keyring.open_string(
        Aad::new("pending_authorizations", &pending.id, "pkce_verifier"),
        &pending.pkce_verifier,
    ) {
        Ok(v) => v,
        Err(err) => return Outcome::Internal(format!("PKCE verifier could not be opened: {err}")),
    };
    let tokens = match app
        .zoom
        .exchange_code(&auth, code, &app.config.redirect_uri(), &verifier)
        .await
    {
        Ok(tokens) => tokens,
        Err(err @ UpstreamError::Rejected { .. }) => return Outcome::ZoomError(err.reason()),
        Err(err) => return Outcome::ZoomUnavailable(err.to_string()),
    };
    let user = match app.zoom.users_me(&tokens.access_token).await {
        Ok(user) => user,
        Err(err) => {
            revoke(app, &auth, &tokens).await;
            return Outcome::ZoomUnavailable(format!("reading the Zoom user failed: {err}"));
        }
    };
    let expected = Email::parse(&pending.email).ok();
    let actual = Email::parse(&user.email).ok();
    match (expected, actual) {
        (Some(expected), Some(actual)) if expected == actual => {}
        (expected, actual) => {
            revoke(app, &auth, &tokens).await;
            return Outcome::EmailMismatch {
                crm: expected
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| pending.email.clone()),
                zoom_masked: actual
                    .map(|e| e.masked())
                    .unwrap_or_else(|| "an account without a valid email".into()),
            };
        }
    }
    if pending.app_type == "account" && !user.is_account_admin() {
        revoke(app, &auth, &tokens).await;
        return Outcome::NotAdmin {
            role: user.role_name.clone().unwrap_or_else(|| "Member".into()),
        };
    }
    match store_connection(app, pending, &user, &tokens).await {
        Ok((id, created)) => Outcome::Connected { id, created },
        Err(err) => {
            revoke(app, &auth, &tokens).await;
            Outcome::Internal(err)
        }
    }
}

/// Best effort: a grant we refuse must not stay alive at Zoom.
async fn revoke(app: &AppState, auth: &ClientAuth<'_>, tokens: &TokenSet) {
    let token = tokens
        .refresh_token
        .as_deref()
        .unwrap_or(&tokens.access_token);
    if let Err(err) = app.zoom.revoke(auth, token).await {
        tracing::warn!(%err, "could not revoke a refused grant at Zoom");
    }
}

fn marketplace_install() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        Tone::Warning,
        "Start from your CRM",
        html! {
            p { "It looks like the app was added from the Zoom App Marketplace. To connect Zoom to your CRM, the authorization has to start in the CRM, so that we know which CRM account to link." }
            ol {
                li { "Open your CRM and go to its Zoom settings." }
                li { "Click " strong { "Authorize from Zoom App Marketplace" } "." }
                li { "Approve the app on Zoom with the same email address you use in the CRM." }
            }
        },
    )
}

pub(super) fn internal_error(err: &dyn std::fmt::Display) -> Response {
    tracing::error!(%err, "callback failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        Tone::Error,
        "Something went wrong",
        html! { p { "We could not finish connecting Zoom. Nothing was saved. Please start again from your CRM." } },
    )
}

pub(super) fn redirect_with(return_to: &str, pairs: &[(&str, &str)]) -> Response {
    match url::Url::parse(return_to) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => internal_error(&"stored return_to is not a URL"),
    }
}

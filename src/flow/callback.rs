//! `GET /oauth/callback`: Zoom's redirect target. Checks the browser
//! binding before anything else, then lets `service::authorization` decide.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::Cookie;
use maud::html;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::{ct_eq, sha256_hex};
use crate::domain::ReturnTo;
use crate::service::authorization::{self, ZoomAnswer};
use crate::service::Claim;
use crate::web::cookies::Cookies;
use crate::web::pages::{page, start_again, Tone};

use super::binding_cookie_name;

mod outcome;
use outcome::finish_with;

#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

pub async fn finish(
    State(app): State<AppState>,
    jar: Cookies,
    Query(params): Query<CallbackParams>,
) -> Response {
    let Some(state) = params.state.as_deref().filter(|s| !s.is_empty()) else {
        return marketplace_install();
    };
    let cookie_name = binding_cookie_name(&sha256_hex(state.as_bytes()));
    let bound = jar
        .get(&cookie_name)
        .is_some_and(|value| ct_eq(value.as_bytes(), state.as_bytes()));
    if !bound {
        tracing::warn!("callback without a matching browser-binding cookie; nothing exchanged");
        return start_again(
            StatusCode::BAD_REQUEST,
            "We could not verify this authorization",
            "This page was opened in a different browser than the one that started the authorization, or the authorization expired.",
        );
    }
    let jar = jar.without(Cookie::build(cookie_name).path("/oauth/callback"));
    let refused = |title: &str, why: &str| start_again(StatusCode::BAD_REQUEST, title, why);
    let pending = match authorization::take_pending(&app, state).await {
        Ok(Claim::Claimed(p)) => p,
        Ok(Claim::AlreadyUsed) => {
            let page = refused(
                "This authorization was already completed",
                "Zoom's answer can be used only once.",
            );
            return (jar, page).into_response();
        }
        Ok(Claim::Expired) => {
            let page = refused(
                "This authorization has expired",
                "Authorizations must be completed within 10 minutes.",
            );
            return (jar, page).into_response();
        }
        Ok(Claim::Unknown) => {
            let page = refused(
                "We could not verify this authorization",
                "We do not recognise this authorization.",
            );
            return (jar, page).into_response();
        }
        Err(err) => return (jar, internal_error(&err)).into_response(),
    };
    let answer = ZoomAnswer {
        code: params.code.as_deref(),
        iss: params.iss.as_deref(),
        error: params.error.as_deref(),
        error_description: params.error_description.as_deref(),
    };
    let outcome = authorization::complete(&app, &pending, answer).await;
    (jar, finish_with(&app, &pending, outcome).await).into_response()
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

/// Sends the browser back to the CRM with `status` (and more) in the query,
/// replacing any earlier value of the same names.
pub(super) fn redirect_with(return_to: &str, pairs: &[(&str, &str)]) -> Response {
    match ReturnTo::from_stored(return_to) {
        Some(url) => Redirect::to(url.with_params(pairs).as_str()).into_response(),
        None => internal_error(&"stored return_to is not a URL"),
    }
}

//! What the person sees after Zoom sends them back, and what is recorded.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use crate::app::AppState;
use crate::domain::rfc3339;
use crate::service::authorization::{jwt_fallback_until, Outcome};
use crate::store::PendingAuthorization;
use crate::web::pages::{page, Tone};

use super::{internal_error, redirect_with};

pub(super) async fn finish_with(
    app: &AppState,
    p: &PendingAuthorization,
    outcome: Outcome,
) -> Response {
    if let Some(return_to) = &p.return_to {
        if let Outcome::Internal(detail) = &outcome {
            tracing::error!(%detail, "callback failed");
        }
        let mut pairs = vec![("status", outcome.status_param())];
        if let Outcome::Connected { id, .. } = &outcome {
            pairs.push(("connection_id", id.as_str()));
        }
        return redirect_with(return_to, &pairs);
    }
    match outcome {
        Outcome::Connected { .. } => page(
            StatusCode::OK,
            Tone::Success,
            "Zoom is connected",
            html! {
                p { "Your Zoom account " strong { (p.email) } " is now connected. You can close this window and return to your CRM." }
            },
        ),
        Outcome::Cancelled => cancelled_page(app, p).await,
        Outcome::EmailMismatch { crm, zoom_masked } => page(
            StatusCode::FORBIDDEN,
            Tone::Error,
            "Oops! The email addresses do not match",
            html! {
                p { "You are signed in to the CRM as " strong { (crm) } ", but you approved the app in Zoom as " strong { (zoom_masked) } "." }
                p { "Nothing was saved. Sign out of Zoom, then start again from your CRM and approve the app with the Zoom account that uses " strong { (crm) } "." }
            },
        ),
        Outcome::AccountMismatch => page(
            StatusCode::FORBIDDEN,
            Tone::Error,
            "This org is connected to another Zoom account",
            html! {
                p { "Your CRM org already uses an account-level connection to a different Zoom account, so this approval was refused and nothing was saved." }
                p { "To move the org to another Zoom account, an admin first disconnects the current connection in the CRM's Zoom settings, then authorizes again." }
            },
        ),
        Outcome::NotAdmin { role } => page(
            StatusCode::FORBIDDEN,
            Tone::Error,
            "A Zoom admin must approve this app",
            html! {
                p { "This is an account-level app, so it must be approved by a Zoom account Owner or Admin. Your Zoom role is " strong { (role) } "." }
                p { "Nothing was saved. Ask your Zoom admin to start the authorization from the CRM." }
            },
        ),
        Outcome::MissingScopes { missing } => page(
            StatusCode::FORBIDDEN,
            Tone::Error,
            "Zoom did not grant what the CRM needs",
            html! {
                p { "The approval on Zoom did not include these permissions (scopes), which the CRM requires:" }
                ul { @for scope in &missing { li { code { (scope) } } } }
                p { "Nothing was saved, and the approval was withdrawn. Start again from your CRM and keep the products that need these permissions selected; if Zoom did not offer them, ask your Zoom admin to allow them for the app." }
            },
        ),
        Outcome::ZoomError(reason) => page(
            StatusCode::BAD_REQUEST,
            Tone::Error,
            "Zoom did not accept the authorization",
            html! {
                p { "Zoom said: " q { (reason) } }
                p { "Nothing was saved. Please start again from your CRM." }
            },
        ),
        Outcome::ZoomUnavailable(detail) => {
            tracing::warn!(%detail, "Zoom unavailable during callback");
            page(
                StatusCode::BAD_GATEWAY,
                Tone::Error,
                "Zoom did not answer",
                html! {
                    p { "We could not reach Zoom to finish the authorization. Nothing was saved. Please try again in a few minutes from your CRM." }
                },
            )
        }
        Outcome::Internal(detail) => internal_error(&detail),
    }
}

async fn cancelled_page(app: &AppState, p: &PendingAuthorization) -> Response {
    let jwt_until = jwt_fallback_until(app, &p.org_id).await.map(rfc3339);
    page(
        StatusCode::OK,
        Tone::Warning,
        "Authorization cancelled",
        html! {
            p { "You cancelled the authorization on Zoom. Nothing was changed." }
            @if let Some(until) = jwt_until {
                p { "Your integration keeps working with the legacy JWT key until " strong { (until) } ". Authorize before then to avoid an interruption." }
            }
        },
    )
}

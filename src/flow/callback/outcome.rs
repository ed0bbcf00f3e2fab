//! What the person sees after Zoom sends them back, and what is recorded.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use crate::app::{rfc3339, AppState};
use crate::crypto::Aad;
use crate::store::{Connection, PendingAuthorization};
use crate::zoom::{TokenSet, ZoomUser};

use super::super::pages::{page, Tone};
use super::{internal_error, redirect_with};

pub(super) enum Outcome {
    Connected { id: String, created: bool },
    Cancelled,
    EmailMismatch { crm: String, zoom_masked: String },
    NotAdmin { role: String },
    ZoomError(String),
    ZoomUnavailable(String),
    Internal(String),
}

pub(super) async fn finish_with(
    app: &AppState,
    p: &PendingAuthorization,
    outcome: Outcome,
) -> Response {
    let org = Some(p.org_id.as_str());
    let actor = format!("user:{}", p.email);
    let (status_param, audit) = match &outcome {
        Outcome::Connected { id, created } => (
            "connected",
            (
                if *created {
                    "connection.created"
                } else {
                    "connection.reauthorized"
                },
                "success",
                format!("connection {id} ({} app)", p.app_type),
            ),
        ),
        Outcome::Cancelled => (
            "cancelled",
            ("authorization.cancelled", "failure", String::new()),
        ),
        Outcome::EmailMismatch { zoom_masked, .. } => (
            "email_mismatch",
            (
                "authorization.email_mismatch",
                "refused",
                format!("Zoom account {zoom_masked}"),
            ),
        ),
        Outcome::NotAdmin { role } => (
            "not_admin",
            (
                "authorization.not_admin",
                "refused",
                format!("installer role {role}"),
            ),
        ),
        Outcome::ZoomError(reason) => (
            "error",
            ("authorization.failed", "failure", format!("Zoom: {reason}")),
        ),
        Outcome::ZoomUnavailable(detail) => {
            ("error", ("authorization.failed", "failure", detail.clone()))
        }
        Outcome::Internal(detail) => ("error", ("authorization.failed", "failure", detail.clone())),
    };
    app.audit(org, &actor, audit.0, audit.1, audit.2).await;

    if let Some(return_to) = &p.return_to {
        if let Outcome::Internal(detail) = &outcome {
            tracing::error!(%detail, "callback failed");
        }
        let mut pairs = vec![("status", status_param)];
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
        Outcome::NotAdmin { role } => page(
            StatusCode::FORBIDDEN,
            Tone::Error,
            "A Zoom admin must approve this app",
            html! {
                p { "This is an account-level app, so it must be approved by a Zoom account Owner or Admin. Your Zoom role is " strong { (role) } "." }
                p { "Nothing was saved. Ask your Zoom admin to start the authorization from the CRM." }
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
    let cutoff = app.config.jwt_cutoff.unix_timestamp();
    let jwt_until = match app.store.jwt(&p.org_id).await {
        Ok(Some(_)) if app.clock.now() < cutoff => Some(rfc3339(cutoff)),
        _ => None,
    };
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

/// Upserts the connection, keyed by Zoom user (user apps) or Zoom account
/// (account apps). Re-authorizing keeps the id and replaces the tokens in place.
pub(super) async fn store_connection(
    app: &AppState,
    p: &PendingAuthorization,
    user: &ZoomUser,
    tokens: &TokenSet,
) -> Result<(String, bool), String> {
    let subject = if p.app_type == "account" {
        &user.account_id
    } else {
        &user.id
    };
    let now = app.clock.now();
    // Tokens are sealed to the row id, so pick the id first; a concurrent
    // insert of the same subject makes the upsert refuse, and we go again.
    for _ in 0..3 {
        let existing = app
            .store
            .connection_by_subject(&p.org_id, &p.app_type, subject)
            .await
            .map_err(|e| e.to_string())?;
        let created = existing.is_none();
        let id = existing
            .map(|c| c.id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let seal = |column: &str, value: &str| {
            app.keyring
                .seal_str(Aad::new("connections", &id, column), value)
        };
        let row = Connection {
            access_token: Some(seal("access_token", &tokens.access_token)),
            refresh_token: tokens
                .refresh_token
                .as_deref()
                .map(|rt| seal("refresh_token", rt)),
            id: id.clone(),
            org_id: p.org_id.clone(),
            app_type: p.app_type.clone(),
            subject: subject.clone(),
            zoom_user_id: user.id.clone(),
            zoom_account_id: user.account_id.clone(),
            email: crate::domain::Email::parse(&user.email)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| user.email.clone()),
            role_name: user.role_name.clone(),
            status: "active".into(),
            status_reason: None,
            scopes: tokens.scope.clone().unwrap_or_default(),
            access_expires_at: Some(now + tokens.lifetime_secs()),
            version: 0,
            lease_owner: None,
            lease_until: None,
            last_refreshed_at: None,
            created_at: now,
            updated_at: now,
        };
        if app
            .store
            .upsert_connection(&row)
            .await
            .map_err(|e| e.to_string())?
        {
            app.forget_tokens(&p.org_id);
            return Ok((id, created));
        }
    }
    Err("the connection kept changing while it was being saved".into())
}

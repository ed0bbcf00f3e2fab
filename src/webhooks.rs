//! `POST /webhooks/zoom`: signed calls from Zoom for the deployment's app;
//! `POST /webhooks/zoom/{org}`: for an org's own app, signed with its token.
//!
//! Every call is checked: `x-zm-signature` must be
//! `v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"))`, compared in
//! constant time, and the timestamp must be within 5 minutes of now.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::crypto::{ct_eq, hmac_hex};
use crate::error::ApiError;
use crate::service::connections::{self, Deauthorization, Deauthorized};
use crate::service::oauth_app;
use crate::store::OrgOauthApp;
use crate::web::ApiPath;
use crate::zoom::webhook_signature;

/// Zoom's own replay window.
pub const MAX_SKEW_SECS: i64 = 300;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/zoom", post(receive))
        .route("/webhooks/zoom/{org}", post(receive_for_org))
}

#[derive(Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    payload: serde_json::Value,
}

#[derive(Deserialize)]
struct DeauthorizationPayload {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    deauthorization_time: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

async fn receive(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = app.config.webhook_secret.as_deref() else {
        return ApiError::Conflict {
            code: "webhooks_disabled",
            message: "ZOOM_WEBHOOK_SECRET_TOKEN is not configured".into(),
        }
        .into_response();
    };
    handle(&app, &headers, &body, secret, None).await
}

/// Events for an org's own Zoom app, verified with that app's secret token.
async fn receive_for_org(
    State(app): State<AppState>,
    ApiPath(org): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match oauth_app::webhook_app(&app, &org).await {
        Ok((own, secret)) => handle(&app, &headers, &body, &secret, Some(&own)).await,
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    secret: &str,
    own: Option<&OrgOauthApp>,
) -> Response {
    if let Err(why) = verify(headers, body, secret, app.clock.now()) {
        tracing::warn!(why, "webhook refused");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_signature", "message": why })),
        )
            .into_response();
    }
    let event: Event = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(e) => {
            return ApiError::bad_request("invalid_body", format!("not a Zoom event: {e}"))
                .into_response()
        }
    };
    tracing::info!(event = %event.event, "webhook received");
    match event.event.as_str() {
        "endpoint.url_validation" => {
            let plain = event
                .payload
                .get("plainToken")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if plain.is_empty() {
                return ApiError::bad_request("invalid_body", "payload.plainToken is missing")
                    .into_response();
            }
            Json(json!({ "plainToken": plain, "encryptedToken": hmac_hex(secret, plain.as_bytes()) })).into_response()
        }
        "app_deauthorized" => match serde_json::from_value::<DeauthorizationPayload>(event.payload)
        {
            Ok(d) => deauthorized(app, d, body, own).await,
            Err(e) => {
                ApiError::bad_request("invalid_body", format!("bad app_deauthorized payload: {e}"))
                    .into_response()
            }
        },
        // Zoom retries anything but 2xx; an event we do not act on is still received.
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

fn verify(headers: &HeaderMap, body: &[u8], secret: &str, now: i64) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = header("x-zm-request-timestamp").ok_or("missing x-zm-request-timestamp")?;
    let presented = header("x-zm-signature").ok_or("missing x-zm-signature")?;
    let mut ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| "x-zm-request-timestamp is not a number")?;
    if ts > 100_000_000_000 {
        ts /= 1000; // milliseconds
    }
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err("timestamp is more than 5 minutes from now");
    }
    if !ct_eq(
        webhook_signature(secret, timestamp.trim(), body).as_bytes(),
        presented.trim().as_bytes(),
    ) {
        return Err("signature does not match");
    }
    Ok(())
}

async fn deauthorized(
    app: &AppState,
    d: DeauthorizationPayload,
    body: &[u8],
    own: Option<&OrgOauthApp>,
) -> Response {
    let event = Deauthorization {
        // Zoom's payload signature identifies the event across retries; a
        // payload without one is identified by its exact bytes.
        event_id: d
            .signature
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::crypto::sha256_hex(body)),
        client_id: d.client_id,
        user_id: d.user_id,
        account_id: d.account_id,
        deauthorization_time: d.deauthorization_time,
    };
    let result = match own {
        None => connections::deauthorize(app, event).await,
        Some(own) => oauth_app::deauthorize(app, own, event).await,
    };
    match result {
        Ok(Deauthorized::OtherApp) => {
            tracing::info!("app_deauthorized for another client_id ignored");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Deauthorized::AlreadyHandled) => {
            tracing::info!("app_deauthorized already handled; replay ignored");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Deauthorized::Revoked(_)) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

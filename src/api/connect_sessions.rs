//! `POST /api/v1/connect-sessions`: a one-time link that starts Zoom authorization.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::{rfc3339, AppState};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::{AppType, Email};
use crate::error::{ApiError, ApiResult};
use crate::store::ConnectSession;

use super::{ApiJson, Caller};

/// How long a connect link stays usable.
pub const SESSION_TTL_SECS: i64 = 600;

#[derive(Deserialize)]
pub struct NewSession {
    org: String,
    email: String,
    app_type: String,
    #[serde(default)]
    return_to: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedSession {
    id: String,
    url: String,
    expires_at: String,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSession>,
) -> ApiResult<(StatusCode, Json<CreatedSession>)> {
    let org = caller.org(&app, &body.org).await?;
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    let app_type: AppType = body
        .app_type
        .parse()
        .map_err(|e: crate::domain::InvalidValue| {
            ApiError::bad_request("invalid_app_type", e.to_string())
        })?;
    let return_to = body
        .return_to
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|raw| check_return_to(&app, raw))
        .transpose()?;
    let (session, token) =
        issue(&app, &org.id, &email, app_type, return_to, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSession {
            id: session.id,
            url: app.config.public_path(&format!("/connect/{token}")),
            expires_at: rfc3339(session.expires_at),
        }),
    ))
}

/// Stores a session and returns it with its one-time token (shown once, stored hashed).
pub async fn issue(
    app: &AppState,
    org_id: &str,
    email: &Email,
    app_type: AppType,
    return_to: Option<String>,
    created_by: &str,
) -> ApiResult<(ConnectSession, String)> {
    let token = random_token();
    let now = app.clock.now();
    let session = ConnectSession {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org_id.to_string(),
        token_hash: sha256_hex(token.as_bytes()),
        email: email.as_str().to_string(),
        app_type: app_type.as_str().to_string(),
        return_to,
        created_by: created_by.to_string(),
        expires_at: now + SESSION_TTL_SECS,
        consumed_at: None,
        created_at: now,
    };
    app.store.insert_connect_session(&session).await?;
    Ok((session, token))
}

/// `return_to` must sit on an allow-listed origin: we are never an open redirector.
pub fn check_return_to(app: &AppState, raw: &str) -> ApiResult<String> {
    let invalid = |why: &str| {
        ApiError::bad_request(
            "invalid_return_to",
            format!("return_to {why}; allowed origins are set in TOKENBROKER_RETURN_ORIGINS"),
        )
    };
    let url = url::Url::parse(raw).map_err(|_| invalid("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid("must be a plain http(s) URL"));
    }
    if !app.config.return_origins.contains(&url.origin()) {
        return Err(invalid("is not on an allowed origin"));
    }
    Ok(url.to_string())
}

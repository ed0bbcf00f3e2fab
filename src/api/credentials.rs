//! Write-only org credentials: legacy JWT keys and Server-to-Server OAuth
//! apps. The API handlers here and the admin console share `set_*`/`remove_*`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::app::{rfc3339, AppState};
use crate::crypto::Aad;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::store::{JwtCredentials, Org, S2sCredentials};
use crate::tokens::fetch_s2s_token;
use crate::zoom::UpstreamError;

use super::{required, ApiJson, Caller};

#[derive(Deserialize)]
pub struct JwtBody {
    api_key: String,
    api_secret: String,
}

#[derive(Deserialize)]
pub struct S2sBody {
    email: String,
    account_id: String,
    client_id: String,
    client_secret: String,
}

/// True while new legacy JWT credentials may still be registered.
pub fn jwt_registration_open(app: &AppState) -> bool {
    app.clock.now_datetime() < app.config.jwt_new_credentials_cutoff
}

pub async fn set_jwt(app: &AppState, org: &Org, actor: &str, body: JwtBody) -> ApiResult<()> {
    if !jwt_registration_open(app) {
        app.audit(
            Some(&org.id),
            actor,
            "jwt_credentials.set",
            "refused",
            "registration closed",
        )
        .await;
        return Err(ApiError::Conflict {
            code: "jwt_registration_closed",
            message: format!(
                "Zoom stopped accepting new JWT credentials at {}; authorize the Zoom OAuth app or add Server-to-Server credentials instead",
                rfc3339(app.config.jwt_new_credentials_cutoff.unix_timestamp())
            ),
        });
    }
    let api_key = required("api_key", &body.api_key, 256)?;
    let api_secret = required("api_secret", &body.api_secret, 512)?;
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let sealed = app
        .keyring
        .seal_str(Aad::new("jwt_credentials", &id, "api_secret"), &api_secret);
    let row = JwtCredentials {
        id,
        org_id: org.id.clone(),
        api_key,
        api_secret: sealed,
        created_at: now,
        updated_at: now,
    };
    app.store.put_jwt(&row).await?;
    app.forget_tokens(&org.id);
    app.audit(Some(&org.id), actor, "jwt_credentials.set", "success", "")
        .await;
    Ok(())
}

pub async fn remove_jwt(app: &AppState, org: &Org, actor: &str) -> ApiResult<()> {
    let removed = app.store.delete_jwt(&org.id).await?;
    app.forget_tokens(&org.id);
    app.audit(
        Some(&org.id),
        actor,
        "jwt_credentials.removed",
        if removed { "success" } else { "noop" },
        "",
    )
    .await;
    Ok(())
}

/// Checks the credentials by minting a token, and keeps that token, so the
/// first token request needs no second mint.
pub async fn set_s2s(app: &AppState, org: &Org, actor: &str, body: S2sBody) -> ApiResult<()> {
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    let account_id = required("account_id", &body.account_id, 128)?;
    let client_id = required("client_id", &body.client_id, 256)?;
    let client_secret = required("client_secret", &body.client_secret, 512)?;
    let tokens = match fetch_s2s_token(app, &client_id, &client_secret, &account_id).await {
        Ok(tokens) => tokens,
        Err(err @ UpstreamError::Rejected { .. }) => {
            app.audit(
                Some(&org.id),
                actor,
                "s2s_credentials.set",
                "refused",
                err.reason(),
            )
            .await;
            return Err(ApiError::Unprocessable {
                code: "s2s_credentials_rejected",
                message: format!(
                    "Zoom refused these Server-to-Server credentials: {}",
                    err.reason()
                ),
            });
        }
        Err(err) => {
            return Err(ApiError::UpstreamUnavailable {
                detail: err.to_string(),
                retry_after_secs: 5,
            })
        }
    };
    let now = app.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    let seal = |column: &str, value: &str| {
        app.keyring
            .seal_str(Aad::new("s2s_credentials", &id, column), value)
    };
    let row = S2sCredentials {
        client_secret: seal("client_secret", &client_secret),
        access_token: Some(seal("access_token", &tokens.access_token)),
        access_expires_at: Some(now + tokens.lifetime_secs()),
        scopes: tokens.scope.clone().unwrap_or_default(),
        id: id.clone(),
        org_id: org.id.clone(),
        email: email.to_string(),
        account_id: account_id.clone(),
        client_id,
        version: 0,
        lease_owner: None,
        lease_until: None,
        last_refreshed_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    app.store.put_s2s(&row).await?;
    app.forget_tokens(&org.id);
    app.audit(
        Some(&org.id),
        actor,
        "s2s_credentials.set",
        "success",
        format!("account {account_id}"),
    )
    .await;
    Ok(())
}

pub async fn remove_s2s(app: &AppState, org: &Org, actor: &str) -> ApiResult<()> {
    let removed = app.store.delete_s2s(&org.id).await?;
    app.forget_tokens(&org.id);
    app.audit(
        Some(&org.id),
        actor,
        "s2s_credentials.removed",
        if removed { "success" } else { "noop" },
        "",
    )
    .await;
    Ok(())
}

pub async fn put_jwt(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<JwtBody>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    set_jwt(&app, &org, &caller.actor(), body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_jwt(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    remove_jwt(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_s2s(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<S2sBody>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    set_s2s(&app, &org, &caller.actor(), body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_s2s(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    remove_s2s(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

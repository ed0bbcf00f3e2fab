//! Write-only org credentials: legacy JWT keys and Server-to-Server OAuth apps.

use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::credentials;
use crate::web::bodies::{JwtBody, S2sBody};
use crate::web::ApiJson;

use super::Caller;

pub async fn put_jwt(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<JwtBody>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    credentials::set_jwt(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_jwt(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    credentials::remove_jwt(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_s2s(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<S2sBody>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    credentials::set_s2s(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_s2s(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.org(&app, &org).await?;
    credentials::remove_s2s(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

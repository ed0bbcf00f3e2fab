//! The console's credential forms: the same rules as the API, for the signed-in admin's org.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::credentials;
use crate::web::bodies::{JwtBody, S2sBody};
use crate::web::ApiJson;

use super::session::Admin;

pub async fn put_jwt(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<JwtBody>,
) -> ApiResult<StatusCode> {
    credentials::set_jwt(&app, admin.org(), &admin.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_jwt(State(app): State<AppState>, admin: Admin) -> ApiResult<StatusCode> {
    credentials::remove_jwt(&app, admin.org(), &admin.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_s2s(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<S2sBody>,
) -> ApiResult<StatusCode> {
    credentials::set_s2s(&app, admin.org(), &admin.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_s2s(State(app): State<AppState>, admin: Admin) -> ApiResult<StatusCode> {
    credentials::remove_s2s(&app, admin.org(), &admin.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The console's form for the org's own Zoom OAuth app: the same rules as
//! `/api/v1/orgs/{org}/oauth-app`, for the signed-in admin's org.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::{oauth_app, ServiceError};
use crate::web::oauth_app_body::{OauthAppBody, OauthAppOut};
use crate::web::ApiJson;

use super::session::Admin;

/// The URLs to register come first: the admin needs them before the app exists.
#[derive(Serialize)]
pub struct OauthAppPanel {
    redirect_url: String,
    webhook_url: String,
    app: Option<OauthAppOut>,
}

pub async fn get(State(app): State<AppState>, admin: Admin) -> ApiResult<Json<OauthAppPanel>> {
    let own = match oauth_app::get(&app, admin.org()).await {
        Ok(view) => Some(view.into()),
        Err(ServiceError::NotFound(_)) => None,
        Err(err) => return Err(err.into()),
    };
    Ok(Json(OauthAppPanel {
        redirect_url: app.config.redirect_uri(),
        webhook_url: oauth_app::webhook_url(&app, admin.org()),
        app: own,
    }))
}

pub async fn put(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<OauthAppBody>,
) -> ApiResult<StatusCode> {
    oauth_app::put(&app, admin.org(), &admin.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(State(app): State<AppState>, admin: Admin) -> ApiResult<StatusCode> {
    oauth_app::remove(&app, admin.org(), &admin.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

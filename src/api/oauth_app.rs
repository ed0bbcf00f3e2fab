//! An org's own Zoom OAuth app: `PUT/GET/DELETE /api/v1/orgs/{org}/oauth-app`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::domain::Scope;
use crate::error::{ApiResult, ErrorBody};
use crate::service::oauth_app;
use crate::web::oauth_app_body::{OauthAppBody, OauthAppOut};
use crate::web::{ApiJson, ApiPath};

use super::responses::{Always, BodyErrors};
use super::Caller;

/// Set the org's own Zoom OAuth app
///
/// While set, the org's connect sessions of its `app_type` authorize,
/// exchange, refresh and revoke with it; each connection keeps the app it
/// was made with. The same `client_id` and `app_type` again rotates the
/// secrets in place. The secrets are write-only.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/oauth-app",
    operation_id = "put_oauth_app",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = OauthAppBody,
    responses(
        (status = 204, description = "Stored."),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_field` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        (status = 409, body = ErrorBody, description = "`app_in_use`: active connections use the \
            current app, so its client id or app type cannot change; the message says how many."),
        Always,
        BodyErrors,
    )
)]
pub async fn put(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<OauthAppBody>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    oauth_app::put(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Show the org's own Zoom OAuth app
///
/// Never shows a secret. `redirect_url` and `webhook_url` are what to
/// register in the app at Zoom.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/oauth-app",
    operation_id = "get_oauth_app",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 200, description = "The org's app.", body = OauthAppOut),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or the org has no app of its own."),
        Always,
    )
)]
pub async fn get(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<Json<OauthAppOut>> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(oauth_app::get(&app, &org).await?.into()))
}

/// Remove the org's own Zoom OAuth app
///
/// New connect sessions use the deployment's app again. Idempotent.
/// Refused while active connections use the app.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/oauth-app",
    operation_id = "delete_oauth_app",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 204, description = "Removed, or there was none."),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        (status = 409, body = ErrorBody, description = "`app_in_use`: active connections use the \
            app; the message says how many."),
        Always,
    )
)]
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    oauth_app::remove(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

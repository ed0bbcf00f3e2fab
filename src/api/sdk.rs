//! Meeting SDK credentials and signatures (Zoom's "JWT app type to SDK app type").

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::domain::Scope;
use crate::error::{ApiResult, ErrorBody};
use crate::service::sdk::{self, Signature};
use crate::web::sdk_bodies::{SdkBody, SignatureBody};
use crate::web::{ApiJson, ApiPath};

use super::responses::{Always, BodyErrors};
use super::Caller;

/// Set the Meeting SDK app's credentials
///
/// Write-only: the secret is never returned. Replaces any earlier ones.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/sdk-credentials",
    operation_id = "put_sdk_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = SdkBody,
    responses(
        (status = 204, description = "Stored."),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_field` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
        BodyErrors,
    )
)]
pub async fn put_sdk(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<SdkBody>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    sdk::set_sdk(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the Meeting SDK app's credentials
///
/// Idempotent.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/sdk-credentials",
    operation_id = "delete_sdk_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 204, description = "Removed, or there were none."),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn delete_sdk(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    sdk::remove_sdk(&app, &org, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign a Meeting SDK join
///
/// An HS256 JWT in Zoom's SDK JWT Auth format (`appKey`, `sdkKey`, `mn`,
/// `role`, `iat`, `exp`, `tokenExp`), signed with the org's SDK secret.
/// `iat` is 30 s in the past (clock skew, as Zoom's sample);
/// `exp` = `tokenExp` = `iat` + `expires_in_secs`.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/sdk-signature",
    operation_id = "create_sdk_signature",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = SignatureBody,
    responses(
        (status = 200, description = "A signature.", body = Signature),
        (status = 400, body = ErrorBody, description = "`invalid_meeting_number` (not 9 to 11 \
            digits), `invalid_role` (not 0 or 1), `invalid_expires_in_secs` (not 1800 to \
            172800), `invalid_body` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        (status = 409, body = ErrorBody, description = "`sdk_credentials_missing`: the org has \
            no Meeting SDK credentials."),
        Always,
        BodyErrors,
    )
)]
pub async fn sign(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<SignatureBody>,
) -> ApiResult<Json<Signature>> {
    caller.require(Scope::TokensRead)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(sdk::sign(&app, &org, body.parse()?).await?))
}

//! Write-only org credentials: legacy JWT keys and Server-to-Server OAuth apps.

use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::service::credentials::{self, Entries};
use crate::web::bodies::{JwtBody, S2sBody};
use crate::web::{ApiJson, ApiPath};

use super::responses::{Always, BodyErrors};
use super::Caller;
use crate::domain::Scope;

/// Set a legacy JWT key
///
/// Upserts the entry for `email` (without one: the org-wide entry), keeping
/// the others. Write-only: the secret is never returned. Refused after
/// `TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF`.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/jwt-credentials",
    operation_id = "put_jwt_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = JwtBody,
    responses(
        (status = 204, description = "Stored."),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_email`, \
            `invalid_field` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        (status = 409, body = ErrorBody, description = "`jwt_registration_closed`: the \
            new-credentials cutoff has passed."),
        Always,
        BodyErrors,
    )
)]
pub async fn put_jwt(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<JwtBody>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    credentials::set_jwt(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove every legacy JWT entry
///
/// Turns the JWT fallback off. Idempotent.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/jwt-credentials",
    operation_id = "delete_jwt_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 204, description = "Removed, or there was none."),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn delete_jwt(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    credentials::remove_jwt(&app, &org, &caller.actor(), Entries::All).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set Server-to-Server OAuth credentials
///
/// Upserts the entry for `email`, keeping the others. A user is served by
/// the entry with their own email, else by the org's first entry.
/// Checked by fetching a token (`grant_type=account_credentials`); that
/// token is kept and shared by every replica. The client secret is
/// write-only. Whether Zoom accepts a well-formed set is Zoom's to say and
/// no schema can state it: one that Zoom refuses is
/// `422 s2s_credentials_rejected`, and nothing is stored.
#[utoipa::path(
    put,
    path = "/api/v1/orgs/{org}/s2s-credentials",
    operation_id = "put_s2s_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = S2sBody,
    responses(
        (status = 204, description = "Checked at Zoom and stored."),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_email`, \
            `invalid_field` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        (status = 422, body = ErrorBody, description = "`s2s_credentials_rejected`: Zoom \
            refused the credentials; the message carries Zoom's reason."),
        (status = 503, body = ErrorBody, description = "`upstream_unavailable`: Zoom did not answer.",
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
        Always,
        BodyErrors,
    )
)]
pub async fn put_s2s(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<S2sBody>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    credentials::set_s2s(&app, &org, &caller.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove every Server-to-Server entry
///
/// Idempotent.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/s2s-credentials",
    operation_id = "delete_s2s_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 204, description = "Removed, or there were none."),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn delete_s2s(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    credentials::remove_s2s(&app, &org, &caller.actor(), Entries::All).await?;
    Ok(StatusCode::NO_CONTENT)
}

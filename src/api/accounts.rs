//! An org's Zoom account entries: list them (no secrets) and remove one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::app::AppState;
use crate::domain::{Email, Scope};
use crate::error::{ApiResult, ErrorBody};
use crate::service::accounts::{self, JwtAccount, S2sAccount};
use crate::service::credentials::{self, Entries};
use crate::web::{invalid, ApiPath};

use super::responses::Always;
use super::Caller;

/// List Server-to-Server entries
///
/// One entry per Zoom account (email), the org's first (earliest created,
/// which serves users without an entry of their own) first. Never a secret.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/s2s-credentials",
    operation_id = "list_s2s_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 200, description = "The entries, first first.", body = Vec<S2sAccount>),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn list_s2s(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<Json<Vec<S2sAccount>>> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(accounts::s2s_accounts(&app, &org).await?))
}

/// Remove one Server-to-Server entry
///
/// The other entries stay.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/s2s-credentials/{email}",
    operation_id = "delete_s2s_credentials_entry",
    tag = "credentials",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("email" = Email, Path, description = "The entry's Zoom account email."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, body = ErrorBody, description = "`invalid_email` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or the org \
            has no entry for this email."),
        Always,
    )
)]
pub async fn delete_s2s_entry(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((org, email)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    let which = Entries::One(Some(&email));
    credentials::remove_s2s(&app, &org, &caller.actor(), which).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List legacy JWT entries
///
/// One entry per Zoom account email, plus at most one org-wide entry
/// (`email` null); the first (earliest created) first. Never a secret.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/jwt-credentials",
    operation_id = "list_jwt_credentials",
    tag = "credentials",
    params(("org" = String, Path, description = "The org's slug.")),
    responses(
        (status = 200, description = "The entries, first first.", body = Vec<JwtAccount>),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn list_jwt(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<Json<Vec<JwtAccount>>> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(accounts::jwt_accounts(&app, &org).await?))
}

/// Remove one legacy JWT entry
///
/// The other entries stay. (The org-wide entry, without an email, goes with
/// the bare `DELETE`.)
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/jwt-credentials/{email}",
    operation_id = "delete_jwt_credentials_entry",
    tag = "credentials",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("email" = Email, Path, description = "The entry's Zoom account email."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, body = ErrorBody, description = "`invalid_email` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or the org \
            has no entry for this email."),
        Always,
    )
)]
pub async fn delete_jwt_entry(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((org, email)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(Scope::Credentials)?;
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    let which = Entries::One(Some(&email));
    credentials::remove_jwt(&app, &org, &caller.actor(), which).await?;
    Ok(StatusCode::NO_CONTENT)
}

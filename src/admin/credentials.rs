//! The console's credential forms (S2S and JWT entries, the Meeting SDK app):
//! the same rules as the API, for the signed-in admin's org.

use axum::extract::State;
use axum::http::StatusCode;

use axum::Json;

use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::service::credentials::{self, Entries};
use crate::service::sdk::{self, Signature};
use crate::web::bodies::{JwtBody, S2sBody};
use crate::web::sdk_bodies::{SdkBody, SignatureBody};
use crate::web::ApiJson;
use crate::web::{invalid, ApiPath};

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
    credentials::remove_jwt(&app, admin.org(), &admin.actor(), Entries::All).await?;
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
    credentials::remove_s2s(&app, admin.org(), &admin.actor(), Entries::All).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{email}` is an entry's email, or `org-wide` for the JWT entry without one.
fn entry_email(raw: &str) -> Result<Option<Email>, ApiError> {
    if raw == ORG_WIDE {
        return Ok(None);
    }
    Email::parse(raw)
        .map(Some)
        .map_err(invalid("invalid_email"))
}

/// The path segment naming the JWT entry without an email.
const ORG_WIDE: &str = "org-wide";

pub async fn delete_s2s_entry(
    State(app): State<AppState>,
    admin: Admin,
    ApiPath(email): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let email = entry_email(&email)?;
    let which = Entries::One(email.as_ref());
    credentials::remove_s2s(&app, admin.org(), &admin.actor(), which).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_jwt_entry(
    State(app): State<AppState>,
    admin: Admin,
    ApiPath(email): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let email = entry_email(&email)?;
    let which = Entries::One(email.as_ref());
    credentials::remove_jwt(&app, admin.org(), &admin.actor(), which).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn put_sdk(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<SdkBody>,
) -> ApiResult<StatusCode> {
    sdk::set_sdk(&app, admin.org(), &admin.actor(), body.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_sdk(State(app): State<AppState>, admin: Admin) -> ApiResult<StatusCode> {
    sdk::remove_sdk(&app, admin.org(), &admin.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sdk_signature(
    State(app): State<AppState>,
    admin: Admin,
    ApiJson(body): ApiJson<SignatureBody>,
) -> ApiResult<Json<Signature>> {
    Ok(Json(sdk::sign(&app, admin.org(), body.parse()?).await?))
}

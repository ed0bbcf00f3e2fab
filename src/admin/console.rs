//! The console's JSON API: one overview call, plus the actions.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::api::audit::{audit_page, AuditPage, Page};
use crate::api::connections::{disconnect_connection, ConnectionView};
use crate::api::credentials::jwt_registration_open;
use crate::api::{connect_sessions_issue, ApiJson};
use crate::app::{rfc3339, AppState};
use crate::domain::{AppType, Email};
use crate::error::{ApiError, ApiResult};

use super::session::Admin;
use super::status::{migration_status, MigrationStatus};

#[derive(Serialize)]
pub struct Overview {
    org: OrgView,
    admin_email: String,
    csrf_token: String,
    migration: MigrationStatus,
    connections: Vec<ConnectionView>,
    s2s: Option<S2sView>,
    jwt: Option<JwtView>,
    jwt_registration_open: bool,
    redirect_url: String,
}

#[derive(Serialize)]
struct OrgView {
    slug: String,
    name: String,
}

/// What the console may show of S2S credentials: never the secret.
#[derive(Serialize)]
struct S2sView {
    email: String,
    account_id: String,
    client_id: String,
    updated_at: String,
}

/// What the console may show of the JWT key: a hint, never the secret.
#[derive(Serialize)]
struct JwtView {
    api_key_hint: String,
    updated_at: String,
}

pub async fn overview(State(app): State<AppState>, admin: Admin) -> ApiResult<Json<Overview>> {
    let org = &admin.org;
    let connections = app
        .store
        .list_connections(&org.id)
        .await?
        .into_iter()
        .map(ConnectionView::from)
        .collect();
    let s2s = app.store.s2s(&org.id).await?.map(|s| S2sView {
        email: s.email,
        account_id: s.account_id,
        client_id: s.client_id,
        updated_at: rfc3339(s.updated_at),
    });
    let jwt = app.store.jwt(&org.id).await?.map(|j| JwtView {
        api_key_hint: format!("{}…", j.api_key.chars().take(4).collect::<String>()),
        updated_at: rfc3339(j.updated_at),
    });
    Ok(Json(Overview {
        org: OrgView {
            slug: org.slug.clone(),
            name: org.name.clone(),
        },
        admin_email: admin.email.clone(),
        csrf_token: admin.csrf_token.clone(),
        migration: migration_status(&app, org).await?,
        connections,
        s2s,
        jwt,
        jwt_registration_open: jwt_registration_open(&app),
        redirect_url: app.config.redirect_uri(),
    }))
}

#[derive(Deserialize)]
pub struct AuthorizeBody {
    app_type: String,
}

#[derive(Serialize)]
pub struct AuthorizeLink {
    url: String,
}

/// Starts a connect session for the admin's own email; the browser comes
/// back to the console with the result.
pub async fn authorize(
    State(app): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AuthorizeBody>,
) -> ApiResult<Json<AuthorizeLink>> {
    admin.check_csrf(&headers)?;
    let app_type: AppType = body
        .app_type
        .parse()
        .map_err(|e: crate::domain::InvalidValue| {
            ApiError::bad_request("invalid_app_type", e.to_string())
        })?;
    let email = Email::parse(&admin.email)
        .map_err(|e| ApiError::internal(format!("stored admin email: {e}")))?;
    let return_to = app.config.public_path("/admin/");
    let (_, token) = connect_sessions_issue(
        &app,
        &admin.org.id,
        &email,
        app_type,
        Some(return_to),
        &admin.actor(),
    )
    .await?;
    Ok(Json(AuthorizeLink {
        url: app.config.public_path(&format!("/connect/{token}")),
    }))
}

pub async fn disconnect(
    State(app): State<AppState>,
    admin: Admin,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    admin.check_csrf(&headers)?;
    let conn = app
        .store
        .connection(&admin.org.id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("connection {id:?} not found")))?;
    let warning = disconnect_connection(&app, &conn, &admin.actor()).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "warning": warning })),
    ))
}

pub async fn audit(
    State(app): State<AppState>,
    admin: Admin,
    Query(page): Query<Page>,
) -> ApiResult<Json<AuditPage>> {
    Ok(Json(audit_page(&app, &admin.org.id, page).await?))
}

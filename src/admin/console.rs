//! The console's JSON API: one overview call, plus the actions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::{rfc3339, AppType, ReturnTo};
use crate::error::{ApiError, ApiResult};
use crate::service::accounts::{self, JwtAccount, S2sAccount};
use crate::service::connect::{self, NewConnectSession};
use crate::service::paging::{self, ConnectionListParams};
use crate::service::report::{migration_status, MigrationStatus};
use crate::service::{audit, connections, credentials, sdk};
use crate::web::views::{AuditPageView, AuditQuery, ConnectionPageView};
use crate::web::{invalid, ApiJson, ApiPath, ApiQuery};

use super::session::Admin;

#[derive(Serialize)]
pub struct Overview {
    org: OrgView,
    admin_email: String,
    csrf_token: String,
    migration: MigrationStatus,
    /// Connections per status, every status present.
    connection_counts: Vec<StatusCount>,
    /// Events to the CRM whose delivery gave up (issue 12).
    failed_events: i64,
    /// The first page; `GET /admin/api/connections` serves the others.
    #[serde(flatten)]
    connections: ConnectionPageView,
    /// The org's Zoom account entries, each with its status; the first of
    /// each list serves users without an entry of their own.
    s2s_accounts: Vec<S2sAccount>,
    jwt_accounts: Vec<JwtAccount>,
    /// The Meeting SDK app's key, when set (the secret is never shown).
    sdk: Option<SdkView>,
    jwt_registration_open: bool,
    redirect_url: String,
}

#[derive(Serialize)]
struct StatusCount {
    status: crate::domain::ConnectionStatus,
    count: i64,
}

/// The console's first page is shorter than the API's default.
const CONSOLE_PAGE: &str = "25";

#[derive(Serialize)]
struct OrgView {
    slug: String,
    name: String,
}

#[derive(Serialize)]
struct SdkView {
    sdk_key: String,
    updated_at: String,
}

pub async fn overview(State(app): State<AppState>, admin: Admin) -> ApiResult<Json<Overview>> {
    let org = admin.org();
    let first = ConnectionListParams {
        limit: Some(CONSOLE_PAGE.into()),
        ..Default::default()
    };
    let connections = paging::connections_page(&app, org, &first).await?.into();
    let connection_counts = paging::status_counts(&app, org)
        .await?
        .into_iter()
        .map(|(status, count)| StatusCount { status, count })
        .collect();
    let failed_events = crate::service::events::failed_count(&app, org).await?;
    Ok(Json(Overview {
        org: OrgView {
            slug: org.slug.clone(),
            name: org.name.clone(),
        },
        admin_email: admin.0.email.to_string(),
        csrf_token: admin.0.csrf_token.clone(),
        migration: migration_status(&app, org).await?,
        connection_counts,
        failed_events,
        connections,
        s2s_accounts: accounts::s2s_accounts(&app, org).await?,
        jwt_accounts: accounts::jwt_accounts(&app, org).await?,
        sdk: sdk::sdk_key(&app, org)
            .await?
            .map(|(sdk_key, updated_at)| SdkView {
                sdk_key,
                updated_at: rfc3339(updated_at),
            }),
        jwt_registration_open: credentials::jwt_registration_open(&app),
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
    ApiJson(body): ApiJson<AuthorizeBody>,
) -> ApiResult<Json<AuthorizeLink>> {
    let app_type: AppType = body.app_type.parse().map_err(invalid("invalid_app_type"))?;
    let console = app.config.public_path("/admin/");
    let return_to = ReturnTo::from_stored(&console)
        .ok_or_else(|| ApiError::internal("TOKENBROKER_PUBLIC_URL does not make a console URL"))?;
    let new = NewConnectSession {
        email: admin.0.email.clone(),
        app_type,
        return_to: Some(return_to),
        products: Vec::new(),
    };
    let session = connect::create_session(&app, admin.org(), new, &admin.actor()).await?;
    Ok(Json(AuthorizeLink { url: session.url }))
}

pub async fn disconnect(
    State(app): State<AppState>,
    admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let warning = connections::disconnect(&app, admin.org(), &id, &admin.actor()).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "warning": warning })),
    ))
}

/// A page of the admin's org's connections, with the API's filters.
pub async fn connections(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(params): ApiQuery<ConnectionListParams>,
) -> ApiResult<Json<ConnectionPageView>> {
    Ok(Json(
        paging::connections_page(&app, admin.org(), &params)
            .await?
            .into(),
    ))
}

pub async fn audit(
    State(app): State<AppState>,
    admin: Admin,
    ApiQuery(page): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPageView>> {
    Ok(Json(
        audit::page(&app, admin.org(), page.from()?, page.limit.as_deref())
            .await?
            .into(),
    ))
}

//! `GET /api/v1/orgs/{org}/audit?after=&limit=` (or the older `before=`): the org's security audit log.

use axum::extract::State;
use axum::Json;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::service::audit;
use crate::web::views::{AuditPageView, AuditQuery};
use crate::web::{ApiPath, ApiQuery};

use super::responses::Always;
use super::Caller;
use crate::domain::Scope;

/// Read the org's security audit log
///
/// Newest first. Pass `next` as `after` for the next (older) page (or, as
/// before 0.2, `next_before` as `before`). Given both, both hold.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/audit",
    operation_id = "list_audit_events",
    tag = "audit",
    params(("org" = String, Path, description = "The org's slug."), AuditQuery),
    responses(
        (status = 200, description = "A page of events.", body = AuditPageView),
        (status = 400, body = ErrorBody, description = "`invalid_limit`, `invalid_before`, \
            `invalid_cursor` (an `after` the server did not make for this org), \
            `invalid_query` (a malformed query string) or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(page): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPageView>> {
    caller.require(Scope::Admin)?;
    let org = caller.org(&app, &org).await?;
    let page = audit::page(&app, &org, page.from()?, page.limit.as_deref()).await?;
    Ok(Json(page.into()))
}

//! The security audit log of an org.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::{rfc3339, AppState};
use crate::error::ApiResult;

use super::Caller;

#[derive(Deserialize)]
pub struct Page {
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct AuditEntry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    outcome: String,
    detail: String,
}

#[derive(Serialize)]
pub struct AuditPage {
    events: Vec<AuditEntry>,
    /// Pass as `before` to read the next (older) page; absent on the last page.
    next_before: Option<i64>,
}

/// `GET /api/v1/orgs/{org}/audit?before=&limit=`: newest first.
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<AuditPage>> {
    let org = caller.org(&app, &org).await?;
    Ok(Json(audit_page(&app, &org.id, page).await?))
}

/// One page of an org's audit log; shared with the admin console.
pub async fn audit_page(app: &AppState, org_id: &str, page: Page) -> ApiResult<AuditPage> {
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let rows = app.store.list_audit(org_id, page.before, limit).await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let events = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: rfc3339(r.created_at),
            actor: r.actor,
            action: r.action,
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect();
    Ok(AuditPage {
        events,
        next_before,
    })
}

//! Reading an org's security audit log.

use crate::app::AppState;
use crate::store::{AuditEvent, Org};

use super::{ServiceError, ServiceResult};

pub const MAX_PAGE: i64 = 200;
pub const DEFAULT_PAGE: i64 = 50;

pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` to read the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// One page of the log, newest first.
pub async fn page(
    app: &AppState,
    org: &Org,
    before: Option<i64>,
    limit: Option<i64>,
) -> ServiceResult<AuditPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ServiceError::invalid(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    // Entry ids start at 1, so a smaller cursor can only be a mistake.
    if before.is_some_and(|b| b < 1) {
        return Err(ServiceError::invalid(
            "invalid_before",
            "before must be a positive entry id (next_before of the previous page)",
        ));
    }
    let events = app.store.list_audit(&org.id, before, limit).await?;
    let next_before = (events.len() as i64 == limit)
        .then(|| events.last().map(|r| r.id))
        .flatten();
    Ok(AuditPage {
        events,
        next_before,
    })
}

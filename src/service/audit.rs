//! Reading an org's security audit log.

use serde_json::json;

use crate::app::AppState;
use crate::store::{AuditEvent, Org};

use super::paging::{binding, decode, encode, parse_limit};
use super::{ServiceError, ServiceResult};

pub const MAX_PAGE: i64 = 200;
pub const DEFAULT_PAGE: i64 = 50;

pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` to read the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
    /// The same position as an opaque, org-bound cursor, for `after`.
    pub next: Option<String>,
}

/// Where a page of the log starts: after a cursor and/or (the older form,
/// still accepted) before an entry id. Given both, both hold: the page starts
/// below the older of the two positions, as filters combine elsewhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuditFrom<'a> {
    pub before: Option<i64>,
    pub after: Option<&'a str>,
}

/// One page of the log, newest first, served by the `(org_id, id)` index.
pub async fn page(
    app: &AppState,
    org: &Org,
    from: AuditFrom<'_>,
    limit: Option<&str>,
) -> ServiceResult<AuditPage> {
    let limit = parse_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
    let binding = binding(&org.id, "audit", "");
    // Entry ids start at 1, so a smaller position can only be a mistake.
    if from.before.is_some_and(|id| id < 1) {
        return Err(ServiceError::invalid(
            "invalid_before",
            "before must be a positive entry id (next_before of the previous page)",
        ));
    }
    let after = from
        .after
        .map(|raw| cursor_id(&decode(raw, &binding)?))
        .transpose()?;
    let before = match (from.before, after) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // One more than asked, to learn whether an older page follows.
    let mut events = app.store.list_audit(&org.id, before, limit + 1).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next_before = more.then(|| events.last().map(|r| r.id)).flatten();
    Ok(AuditPage {
        next: next_before.map(|id| encode(&binding, json!([id]))),
        events,
        next_before,
    })
}

fn cursor_id(key: &serde_json::Value) -> ServiceResult<i64> {
    key.as_array()
        .and_then(|k| match k.as_slice() {
            [id] => id.as_i64(),
            _ => None,
        })
        .ok_or_else(|| {
            ServiceError::invalid(
                "invalid_cursor",
                "the cursor is malformed; pass the `next` value of the previous page unchanged",
            )
        })
}

//! Reading an org's events to the CRM (`GET /api/v1/events`): replay and polling.

use std::sync::Arc;

use crate::app::AppState;
use crate::store::{Org, OutboxEvent};

use super::orgs;
use super::paging::parse_limit;
use super::{ServiceError, ServiceResult};

pub const MAX_PAGE: i64 = 1000;
pub const DEFAULT_PAGE: i64 = 100;

pub struct EventPage {
    pub events: Vec<OutboxEvent>,
    /// The last event's id, to pass as `after`; `None` on the last page.
    pub next: Option<String>,
}

/// The org the caller reads: an org key reads its own org (`org` may name
/// it); an all-orgs key reads the org it names, or every org (`None`).
pub async fn org_for(
    app: &AppState,
    scope: Option<&str>,
    slug: Option<&str>,
) -> ServiceResult<Option<Arc<Org>>> {
    match (scope, slug.filter(|s| !s.is_empty())) {
        (_, Some(slug)) => Ok(Some(orgs::visible(app, scope, slug).await?)),
        (Some(org_id), None) => {
            let org = app.store.org_by_id(org_id).await?;
            let gone = || ServiceError::NotFound("the key's org no longer exists".into());
            Ok(Some(Arc::new(org.ok_or_else(gone)?)))
        }
        (None, None) => Ok(None),
    }
}

/// The org's (`None`: every org's) events after event `after` (an event id), oldest first.
pub async fn page(
    app: &AppState,
    org: Option<&Org>,
    after: Option<&str>,
    limit: Option<&str>,
) -> ServiceResult<EventPage> {
    let limit = parse_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
    let org_id = org.map(|o| o.id.as_str());
    let after_seq = match after.filter(|a| !a.is_empty()) {
        None => 0,
        Some(id) => app.store.event_seq(org_id, id).await?.ok_or_else(|| {
            ServiceError::invalid(
                "invalid_cursor",
                format!("after: no event {id:?} visible here; pass an event id or `next`"),
            )
        })?,
    };
    let mut events = app.store.list_events(org_id, after_seq, limit + 1).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next = more.then(|| events.last().map(|e| e.id.clone())).flatten();
    Ok(EventPage { events, next })
}

/// How many of the org's events gave up (the console shows it).
pub async fn failed_count(app: &AppState, org: &Org) -> ServiceResult<i64> {
    Ok(app.store.failed_event_count(&org.id).await?)
}

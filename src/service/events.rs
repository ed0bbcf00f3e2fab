//! Reading an org's events to the CRM (`GET /api/v1/events`): replay and polling.

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
/// it); an all-orgs key must name one.
pub async fn org_for(
    app: &AppState,
    scope: Option<&str>,
    slug: Option<&str>,
) -> ServiceResult<Org> {
    match (scope, slug.filter(|s| !s.is_empty())) {
        (_, Some(slug)) => orgs::visible(app, scope, slug).await,
        (Some(org_id), None) => app
            .store
            .org_by_id(org_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("the key's org no longer exists".into())),
        (None, None) => Err(ServiceError::invalid(
            "org_required",
            "an all-orgs API key must name the org: ?org=<slug>",
        )),
    }
}

/// The org's events after event `after` (an event id), oldest first.
pub async fn page(
    app: &AppState,
    org: &Org,
    after: Option<&str>,
    limit: Option<&str>,
) -> ServiceResult<EventPage> {
    let limit = parse_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
    let after_seq = match after.filter(|a| !a.is_empty()) {
        None => 0,
        Some(id) => app.store.event_seq(&org.id, id).await?.ok_or_else(|| {
            ServiceError::invalid(
                "invalid_cursor",
                format!("after: no event {id:?} in this org; pass an event id or `next`"),
            )
        })?,
    };
    let mut events = app.store.list_events(&org.id, after_seq, limit + 1).await?;
    let more = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let next = more.then(|| events.last().map(|e| e.id.clone())).flatten();
    Ok(EventPage { events, next })
}

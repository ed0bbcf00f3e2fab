//! `GET /api/v1/events?after=&limit=&org=`: replay or poll the events sent to the CRM.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::domain::{DeliveryStatus, EventType, Scope};
use crate::error::{ApiResult, ErrorBody};
use crate::service::events;
use crate::store::OutboxEvent;
use crate::web::ApiQuery;

use super::responses::Always;
use super::Caller;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// An event id (`msg_…`, the `id` or `next` of an earlier page): only
    /// events written after it. Absent or empty: from the first. An id of
    /// this form that is not an event visible here (unknown, swept, or
    /// another org's) is `400 invalid_cursor`: the server cannot place it in
    /// the order, and guessing would skip or repeat events.
    #[param(pattern = r"^(msg_[0-9A-Za-z]{24})?$")]
    pub after: Option<String>,
    /// Events per page.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<String>,
    /// The org's slug. An org key may omit it; an all-orgs key without it reads every org.
    pub org: Option<String>,
}

/// One event, with the body the CRM receives and where its delivery stands.
#[derive(Serialize, ToSchema)]
#[schema(as = Event)]
pub struct EventView {
    /// The `webhook-id` of every delivery attempt.
    id: String,
    #[serde(rename = "type")]
    event_type: EventType,
    #[schema(format = DateTime)]
    timestamp: String,
    /// `{org, connection_id, email, app_type, status, reason?}`.
    #[schema(value_type = Object)]
    data: serde_json::Value,
    status: DeliveryStatus,
    /// Delivery attempts so far.
    attempts: i64,
}

impl From<OutboxEvent> for EventView {
    fn from(e: OutboxEvent) -> Self {
        let body: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
        Self {
            id: e.id,
            event_type: e.event_type,
            timestamp: body["timestamp"].as_str().unwrap_or_default().to_string(),
            data: body["data"].clone(),
            status: e.status,
            attempts: e.attempts,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = EventPage)]
pub struct EventPageView {
    /// Oldest first.
    events: Vec<EventView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// Replay or poll the events to the CRM
///
/// The caller's org's events, oldest first, each with its delivery status
/// (an all-orgs key: the named org's, or every org's).
/// Poll with the last id seen as `after`. Events are recorded even when no
/// `TOKENBROKER_EVENTS_URL` is set, so polling works without a receiver.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "list_events",
    tag = "events",
    params(EventsQuery),
    responses(
        (status = 200, description = "A page of events.", body = EventPageView),
        (status = 400, body = ErrorBody, description = "`invalid_limit`, `invalid_cursor` \
            (`after` is not an event visible here) or `invalid_query`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPageView>> {
    caller.require(Scope::TokensRead)?;
    let org = events::org_for(&app, caller.org_scope(), q.org.as_deref()).await?;
    let page = events::page(&app, org.as_deref(), q.after.as_deref(), q.limit.as_deref()).await?;
    Ok(Json(EventPageView {
        events: page.events.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

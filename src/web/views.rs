//! How answers show domain records: never a token or a secret.

use serde::{Deserialize, Serialize};

use crate::domain::{rfc3339, AppType, AuditAction, AuditOutcome, ConnectionStatus};
use crate::error::ApiError;
use crate::service::audit::{AuditFrom, AuditPage};
use crate::service::paging::ConnectionPage;
use crate::store::Connection;

/// A connection as the API and the console show it.
#[derive(Serialize)]
pub struct ConnectionView {
    id: String,
    email: String,
    zoom_user_id: String,
    zoom_account_id: String,
    app_type: AppType,
    status: ConnectionStatus,
    status_reason: Option<String>,
    role_name: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<String>,
    last_refreshed_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            scopes: c.scopes.split_whitespace().map(str::to_string).collect(),
            expires_at: c.access_expires_at.map(rfc3339),
            last_refreshed_at: c.last_refreshed_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            id: c.id,
            email: c.email,
            zoom_user_id: c.zoom_user_id,
            zoom_account_id: c.zoom_account_id,
            app_type: c.app_type,
            status: c.status,
            status_reason: c.status_reason,
            role_name: c.role_name,
        }
    }
}

/// One page of an org's connections: `GET …/connections`.
#[derive(Serialize)]
pub struct ConnectionPageView {
    connections: Vec<ConnectionView>,
    /// Pass as `after` (with the same filters) for the next page; absent on
    /// the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

impl From<ConnectionPage> for ConnectionPageView {
    fn from(page: ConnectionPage) -> Self {
        Self {
            connections: page.connections.into_iter().map(Into::into).collect(),
            next: page.next,
        }
    }
}

/// `?after=&limit=` (or the older `?before=`) on an audit log.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// The `next` of the previous page: an opaque cursor bound to the org.
    pub after: Option<String>,
    /// Older form: events with an id below this one.
    pub before: Option<i64>,
    /// Page size, 1 to 200; default 50.
    pub limit: Option<String>,
}

impl AuditQuery {
    pub fn from(&self) -> Result<AuditFrom<'_>, ApiError> {
        match (self.after.as_deref(), self.before) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                "invalid_query",
                "give either after or before, not both",
            )),
            (Some(after), None) => Ok(AuditFrom::After(after)),
            (None, Some(before)) => Ok(AuditFrom::Before(before)),
            (None, None) => Ok(AuditFrom::Newest),
        }
    }
}

#[derive(Serialize)]
pub struct AuditEntry {
    id: i64,
    at: String,
    actor: String,
    action: AuditAction,
    outcome: AuditOutcome,
    detail: String,
}

#[derive(Serialize)]
pub struct AuditPageView {
    events: Vec<AuditEntry>,
    /// Pass as `before` to read the next (older) page; null on the last page.
    next_before: Option<i64>,
    /// Pass as `after` to read the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

impl From<AuditPage> for AuditPageView {
    fn from(page: AuditPage) -> Self {
        Self {
            events: page
                .events
                .into_iter()
                .map(|r| AuditEntry {
                    id: r.id,
                    at: rfc3339(r.created_at),
                    actor: r.actor,
                    action: r.action,
                    outcome: r.outcome,
                    detail: r.detail,
                })
                .collect(),
            next_before: page.next_before,
            next: page.next,
        }
    }
}

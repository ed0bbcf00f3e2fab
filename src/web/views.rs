//! How answers show domain records: never a token or a secret.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{rfc3339, AppType, AuditAction, AuditOutcome, ConnectionStatus};
use crate::error::ApiError;
use crate::service::audit::{AuditFrom, AuditPage};
use crate::service::paging::ConnectionPage;
use crate::store::Connection;

/// A connection as the API and the console show it.
#[derive(Serialize, ToSchema)]
#[schema(as = Connection)]
pub struct ConnectionView {
    id: String,
    /// The CRM user's email, trimmed and lower-cased.
    email: String,
    zoom_user_id: String,
    zoom_account_id: String,
    app_type: AppType,
    status: ConnectionStatus,
    /// Why the connection needs re-authorization or was revoked.
    status_reason: Option<String>,
    /// The Zoom role of the user who authorized.
    role_name: Option<String>,
    scopes: Vec<String>,
    /// When the current access token expires.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    last_refreshed_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
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
#[derive(Serialize, ToSchema)]
#[schema(as = ConnectionPage)]
pub struct ConnectionPageView {
    connections: Vec<ConnectionView>,
    /// Pass as `after` (with the same filters) for the next page; absent on
    /// the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
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
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The `next` of the previous page: an opaque cursor bound to the org.
    /// Only the server makes cursors; any other value is
    /// `400 invalid_cursor`. Empty: the newest page.
    #[param(pattern = r"^[A-Za-z0-9_-]*$", max_length = 2048)]
    pub after: Option<String>,
    /// Older form: only entries older than this id (the `next_before` of the
    /// previous page). With `after` too, both hold.
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// Entries per page.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<String>,
}

impl AuditQuery {
    pub fn from(&self) -> Result<AuditFrom<'_>, ApiError> {
        Ok(AuditFrom {
            before: self.before,
            // An empty `after` is the first page, as if it were absent.
            after: self.after.as_deref().filter(|a| !a.is_empty()),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    id: i64,
    #[schema(format = DateTime)]
    at: String,
    /// Who: `api_key:<id>`, `admin:<email>`, `user:<email>`, `zoom` or `cli`.
    actor: String,
    action: AuditAction,
    outcome: AuditOutcome,
    detail: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = AuditPage)]
pub struct AuditPageView {
    events: Vec<AuditEntry>,
    /// Pass as `before` to read the next (older) page; null on the last page.
    next_before: Option<i64>,
    /// Pass as `after` to read the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
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

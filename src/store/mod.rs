//! Storage: one trait, one SQLite and one PostgreSQL implementation.
//!
//! Both backends share the same portable SQL (see `common.rs`); only pool
//! setup and migrations differ. Secrets arrive here already sealed: the store
//! never sees a plaintext token.

mod common;
mod deadline;
pub mod lease;
pub mod postgres;
pub mod records;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use deadline::Deadline;
pub use lease::{LeaseEnd, LeaseGrant};
pub use records::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The call did not finish within its deadline.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// The database cannot be reached or is restarting, as opposed to a
    /// query that failed on its own: worth a 503 and a retry, not a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Database(err) => sqlx_unavailable(err),
            Self::Conflict(_) | Self::Migration(_) => false,
        }
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match err {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        E::Protocol(_) => true,
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            // PostgreSQL: connection exceptions (08), shutdown and start-up
            // (57P01-57P03), too many connections (53300).
            let postgres = code.starts_with("08") || code.starts_with("57P") || code == "53300";
            // SQLite: BUSY (5) and LOCKED (6), with their extended codes.
            let sqlite = code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
            postgres || sqlite
        }
        _ => false,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which row kind holds a refreshable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSlot {
    Connection,
    S2s,
}

/// A sealed column that `rotate-keys` walks. The table and column names are
/// fixed here, never taken from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
}

pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "connections",
        column: "access_token",
    },
    SealedColumn {
        table: "connections",
        column: "refresh_token",
    },
    SealedColumn {
        table: "s2s_credentials",
        column: "client_secret",
    },
    SealedColumn {
        table: "s2s_credentials",
        column: "access_token",
    },
    SealedColumn {
        table: "jwt_credentials",
        column: "api_secret",
    },
    SealedColumn {
        table: "pending_authorizations",
        column: "pkce_verifier",
    },
];

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    async fn insert_org(&self, org: &Org) -> StoreResult<()>;
    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>>;
    async fn org_by_id(&self, id: &str) -> StoreResult<Option<Org>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;

    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    /// Marks the session consumed if it is live and unused, in one statement.
    async fn consume_connect_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<ConnectSession>>;
    async fn insert_pending_authorization(&self, pending: &PendingAuthorization)
        -> StoreResult<()>;
    async fn take_pending_authorization(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<PendingAuthorization>>;

    async fn connection(&self, org_id: &str, id: &str) -> StoreResult<Option<Connection>>;
    async fn connection_by_id(&self, id: &str) -> StoreResult<Option<Connection>>;
    async fn connection_by_subject(
        &self,
        org_id: &str,
        app_type: &str,
        subject: &str,
    ) -> StoreResult<Option<Connection>>;
    /// Inserts, or replaces tokens in place when the same subject re-authorizes.
    /// Returns false when the row exists under another id (a concurrent insert); the caller retries.
    async fn upsert_connection(&self, conn: &Connection) -> StoreResult<bool>;
    async fn list_connections(&self, org_id: &str) -> StoreResult<Vec<Connection>>;
    async fn user_connection_for_email(
        &self,
        org_id: &str,
        email: &str,
    ) -> StoreResult<Option<Connection>>;
    async fn account_connection(&self, org_id: &str) -> StoreResult<Option<Connection>>;
    async fn delete_connection(&self, org_id: &str, id: &str) -> StoreResult<bool>;
    async fn mark_needs_reauth(
        &self,
        id: &str,
        version: i64,
        reason: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Zoom says the app was removed: revoke and erase the matching grants.
    /// Returns only rows that changed, so a repeated event changes nothing.
    async fn deauthorize_connections(
        &self,
        zoom_user_id: &str,
        zoom_account_id: &str,
        reason: &str,
        now: i64,
    ) -> StoreResult<Vec<Connection>>;
    async fn connections_expiring_before(
        &self,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<Connection>>;

    /// Takes the cross-process refresh lease for `lease_secs` of the
    /// database's clock, if the row is still at `version` and no live lease
    /// exists. `None` when someone else holds it or the row moved on.
    async fn acquire_lease(
        &self,
        slot: TokenSlot,
        id: &str,
        version: i64,
        owner: &str,
        lease_secs: i64,
    ) -> StoreResult<Option<LeaseGrant>>;
    async fn release_lease(
        &self,
        slot: TokenSlot,
        id: &str,
        owner: &str,
        end: LeaseEnd,
    ) -> StoreResult<()>;
    /// Compare-and-swap on `version`, fenced by the lease owner: stores
    /// refreshed tokens and clears the lease.
    async fn store_refreshed(&self, slot: TokenSlot, update: &RefreshedTokens)
        -> StoreResult<bool>;

    async fn put_s2s(&self, creds: &S2sCredentials) -> StoreResult<()>;
    async fn s2s(&self, org_id: &str) -> StoreResult<Option<S2sCredentials>>;
    async fn delete_s2s(&self, org_id: &str) -> StoreResult<bool>;

    async fn put_jwt(&self, creds: &JwtCredentials) -> StoreResult<()>;
    async fn jwt(&self, org_id: &str) -> StoreResult<Option<JwtCredentials>>;
    async fn delete_jwt(&self, org_id: &str) -> StoreResult<bool>;

    async fn insert_admin_link(&self, link: &AdminLink) -> StoreResult<()>;
    async fn consume_admin_link(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<AdminLink>>;
    /// Emails that were ever sent an admin link for the org: its known admins.
    async fn admin_emails(&self, org_id: &str) -> StoreResult<Vec<String>>;
    async fn insert_admin_session(&self, session: &AdminSession) -> StoreResult<()>;
    async fn admin_session(&self, id_hash: &str, now: i64) -> StoreResult<Option<AdminSession>>;
    async fn delete_admin_session(&self, id_hash: &str) -> StoreResult<()>;

    /// Deletes one-time records (connect sessions, pending authorizations,
    /// admin links, admin sessions) that expired before `before`. Returns the count.
    async fn prune_expired(&self, before: i64) -> StoreResult<u64>;

    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<()>;
    async fn list_audit(
        &self,
        org_id: &str,
        before_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEvent>>;

    async fn sealed_cells(
        &self,
        column: SealedColumn,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<SealedCell>>;
    /// Replaces one sealed value only if it still equals `old`, so a concurrent writer wins.
    async fn replace_sealed(
        &self,
        column: SealedColumn,
        id: &str,
        old: &str,
        new: &str,
    ) -> StoreResult<bool>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens (and migrates) the database named by `url`, with the default deadline.
pub async fn connect(url: &str) -> StoreResult<DynStore> {
    connect_with_deadline(url, crate::config::Timing::default().db_query).await
}

/// Opens (and migrates) the database named by `url`. No call waits longer
/// than `deadline` for a connection or an answer, so an outage is reported
/// quickly instead of hanging every request.
pub async fn connect_with_deadline(url: &str, deadline: Duration) -> StoreResult<DynStore> {
    if url.starts_with("sqlite:") {
        let store = sqlite::SqliteStore::connect(url, deadline).await?;
        Ok(Arc::new(Deadline::new(store, deadline)))
    } else {
        let store = postgres::PgStore::connect(url, deadline).await?;
        Ok(Arc::new(Deadline::new(store, deadline)))
    }
}

pub(crate) fn map_unique(err: sqlx::Error, what: impl Into<String>) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => StoreError::Database(err),
    }
}

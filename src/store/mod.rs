//! Storage: one trait, one SQLite and one PostgreSQL implementation.
//!
//! Secrets arrive here already sealed: the store never sees a plaintext token.
//!
//! Layout: `sql.rs` holds every statement as text; `common.rs` implements
//! [`Store`] once, generically, for `SqlStore<DB>` over a concrete sqlx pool
//! (`backend.rs`); `one_time.rs` is the shared claim-once helper; only pool
//! setup and migrations differ (`sqlite.rs`, `postgres.rs`).
//!
//! Why this shape rather than the alternatives:
//! - **Not two explicit impls.** The schema is portable (TEXT and BIGINT only)
//!   and `$n` placeholders work on SQLite too, so the SQL and the Rust around
//!   it are the same for both. Two copies of ~45 methods would drift, and the
//!   suite catches a drift only on the backend it happens to run on.
//! - **Not sqlx `Any`.** `Any` carries only bool, integers, floats, text and
//!   bytes (uuids and timestamps would go through text), checks types at run
//!   time, and puts both drivers behind one pool type. Concrete pools behind
//!   one trait keep each driver's own pool tuning (SQLite's WAL and single
//!   in-memory connection, PostgreSQL's advisory-locked migrations), and the
//!   compiler checks every bind and every row type against both drivers.
//! - **Not a `macro_rules!` body**, as before: rustfmt cannot reach one. The
//!   generic impl's bounds state, once, what the SQL needs from a driver.

mod backend;
pub mod budget;
mod cached_key;
mod common;
mod deadline;
pub mod lease;
mod one_time;
pub mod outbox;
pub mod paging;
pub mod pg_failover;
pub mod pg_targets;
pub mod postgres;
pub mod records;
mod shared_error;
mod sql;
pub mod sqlite;
pub mod usage;

pub use backend::{Backend, SqlStore};
pub use paging::{
    ConnectionKey, ConnectionOrder, ConnectionPageQuery, EmailMatch, PagedConnection,
};
pub use records::*;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use budget::{Claim, ClaimWindow, RateBudgets};
pub use cached_key::CachedApiKey;
pub use deadline::Deadline;
pub use lease::{LeaseEnd, LeaseGrant};
pub use outbox::{Outbox, OutboxEvent, Settle};
pub use shared_error::SharedStoreError;
pub use usage::{ConnectionUse, RefreshCandidate, RefreshKind, RefreshPage};

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
        // Which engine answered decides how its code reads: a PostgreSQL
        // SQLSTATE such as 22021 (a NUL in text) is also a number whose low
        // byte is SQLite's BUSY.
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // Connection exceptions (08), shutdown and start-up
                // (57P01-57P03), too many connections (53300), and a write
                // that reached a server demoted to read-only in a failover (25006).
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "53300"
                    || code == "25006"
            } else {
                // SQLite: BUSY (5) and LOCKED (6), with their extended codes.
                code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
            }
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

pub use crate::crypto::SealedColumn;

/// Every sealed column, for `rotate-keys`.
pub const SEALED_COLUMNS: &[SealedColumn] = SealedColumn::ALL;

#[async_trait]
pub trait Store: Outbox + RateBudgets + Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;

    async fn insert_org(&self, org: &Org) -> StoreResult<()>;
    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>>;
    async fn org_by_id(&self, id: &str) -> StoreResult<Option<Org>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    /// Every key (`org_id` `None`), or the keys limited to one org, oldest first.
    async fn list_api_keys(&self, org_id: Option<&str>) -> StoreResult<Vec<ApiKey>>;
    /// Marks a key revoked; false when it already was (or does not exist).
    async fn revoke_api_key(&self, id: &str, now: i64) -> StoreResult<bool>;
    /// Writes keys' latest uses (id, unix seconds), batched by the caller.
    async fn record_api_key_use(&self, uses: &[(String, i64)]) -> StoreResult<u64>;
    /// PostgreSQL: `NOTIFY` every replica's listener (`app::invalidation`);
    /// SQLite: nothing (one process; invalidation stays in-process).
    async fn notify_invalidation(&self, payload: &str) -> StoreResult<()>;

    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    /// Reads a session without using it up.
    async fn connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>>;
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
        app_type: crate::domain::AppType,
        subject: &str,
    ) -> StoreResult<Option<Connection>>;
    /// Inserts, or replaces tokens in place when the same subject re-authorizes.
    /// Returns false when the row exists under another id (a concurrent
    /// insert); the caller retries.
    async fn upsert_connection(&self, conn: &Connection) -> StoreResult<bool>;
    async fn list_connections(&self, org_id: &str) -> StoreResult<Vec<Connection>>;
    /// One keyset page of an org's connections (see `paging.rs`).
    async fn page_connections(&self, q: &ConnectionPageQuery) -> StoreResult<Vec<PagedConnection>>;
    /// How many connections the org has in each status, in one grouped query;
    /// statuses without connections are absent.
    async fn connection_counts(
        &self,
        org_id: &str,
    ) -> StoreResult<Vec<(crate::domain::ConnectionStatus, i64)>>;
    /// The database's plan for a paging statement, one line per row, for
    /// the tests and the benchmark to prove that an index serves it.
    async fn explain(&self, statement: &PlanOf) -> StoreResult<Vec<String>>;
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
    async fn deauthorize_connections(&self, d: &Deauthorize) -> StoreResult<Vec<Connection>>;
    /// True when some org holds an active grant for this subject (Zoom user
    /// or account) made with the app of `app_type`.
    async fn active_grant_exists(
        &self,
        app_type: crate::domain::AppType,
        subject: &str,
    ) -> StoreResult<bool>;
    /// Remembers a webhook event; false when it was seen before.
    async fn record_webhook_event(&self, id: &str, now: i64) -> StoreResult<bool>;
    async fn forget_webhook_event(&self, id: &str) -> StoreResult<()>;
    /// Writes a batch of uses (connection id, unix seconds) in one statement
    /// per `usage::USE_BATCH` rows; a row whose stored use is less than
    /// `granularity_secs` older is left alone. Returns the rows changed.
    async fn record_use(&self, uses: &[(String, i64)], granularity_secs: i64) -> StoreResult<u64>;
    /// One keyset page of connections for the background refresher.
    async fn refresh_page(&self, page: &RefreshPage) -> StoreResult<Vec<RefreshCandidate>>;
    /// Claims one background token-endpoint call in the current second of
    /// the database's clock; false when `per_sec` are already claimed.
    async fn claim_refresh_slot(&self, per_sec: i64) -> StoreResult<bool>;
    async fn connection_use(&self, id: &str) -> StoreResult<Option<ConnectionUse>>;

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
    /// Removes every S2S entry of the org; true if there was one.
    async fn delete_s2s(&self, org_id: &str) -> StoreResult<bool>;
    /// The org's S2S entries, the first (earliest created) first.
    async fn s2s_entries(&self, org_id: &str) -> StoreResult<Vec<S2sCredentials>>;
    async fn s2s_by_id(&self, id: &str) -> StoreResult<Option<S2sCredentials>>;
    async fn delete_s2s_entry(&self, org_id: &str, email: &str) -> StoreResult<bool>;

    async fn put_jwt(&self, creds: &JwtCredentials) -> StoreResult<()>;
    async fn jwt(&self, org_id: &str) -> StoreResult<Option<JwtCredentials>>;
    /// Removes every JWT entry of the org; true if there was one.
    async fn delete_jwt(&self, org_id: &str) -> StoreResult<bool>;
    /// The org's JWT entries, the first (earliest created) first.
    async fn jwt_entries(&self, org_id: &str) -> StoreResult<Vec<JwtCredentials>>;
    async fn delete_jwt_entry(&self, org_id: &str, email: &str) -> StoreResult<bool>;

    async fn put_sdk(&self, creds: &SdkCredentials) -> StoreResult<()>;
    async fn sdk(&self, org_id: &str) -> StoreResult<Option<SdkCredentials>>;
    async fn delete_sdk(&self, org_id: &str) -> StoreResult<bool>;

    /// Inserts or replaces the org's own Zoom OAuth app (one per org).
    async fn put_org_oauth_app(&self, app: &OrgOauthApp) -> StoreResult<()>;
    async fn org_oauth_app(&self, org_id: &str) -> StoreResult<Option<OrgOauthApp>>;
    async fn org_oauth_app_by_id(&self, id: &str) -> StoreResult<Option<OrgOauthApp>>;
    /// How many active connections were made with the app.
    async fn org_oauth_app_in_use(&self, id: &str) -> StoreResult<i64>;
    /// Deletes the org's app unless an active connection uses it; false when
    /// nothing was deleted (no app, or in use).
    async fn delete_org_oauth_app_if_unused(&self, org_id: &str) -> StoreResult<bool>;

    async fn insert_admin_link(&self, link: &AdminLink) -> StoreResult<()>;
    /// Reads a link without using it up.
    async fn admin_link(&self, token_hash: &str) -> StoreResult<Option<AdminLink>>;
    async fn consume_admin_link(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Consumed<AdminLink>>;
    /// Emails that were ever sent an admin link for the org: its known admins.
    async fn admin_emails(&self, org_id: &str) -> StoreResult<Vec<String>>;
    async fn insert_admin_session(&self, session: &AdminSession) -> StoreResult<()>;
    /// Ends every session of `email` on the org; returns how many.
    async fn end_admin_sessions(&self, org_id: &str, email: &str) -> StoreResult<u64>;
    /// A live session: not expired, and seen since `idle_since`.
    async fn admin_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_since: i64,
    ) -> StoreResult<Option<AdminSession>>;
    async fn touch_admin_session(&self, id_hash: &str, now: i64) -> StoreResult<()>;
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

/// A paging statement whose plan [`Store::explain`] shows.
#[derive(Debug, Clone)]
pub enum PlanOf {
    ConnectionPage(ConnectionPageQuery),
    ConnectionCounts {
        org_id: String,
    },
    AuditPage {
        org_id: String,
        before_id: Option<i64>,
        limit: i64,
    },
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

//! The outbox of events to the CRM (issue 12).
//!
//! A store method that changes a connection (`upsert_connection`,
//! `mark_needs_reauth`, `deauthorize_connections`, `delete_connection`)
//! writes its event row here in the same transaction, built from the row it
//! changed: a change that fails or changes nothing writes no event, and an
//! event can never outlive a rolled-back change. The delivery worker
//! (`crate::events`) claims due rows with a lease on the database's clock
//! (and `FOR UPDATE SKIP LOCKED` on PostgreSQL), so with several replicas
//! each event is in one replica's hands at a time.

use async_trait::async_trait;
use serde_json::json;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::backend::{Backend, SqlStore};
use super::{Connection, StoreResult};
use crate::domain::{DeliveryStatus, EventType};

/// One row of the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxEvent {
    pub seq: i64,
    /// `msg_` + random: the `webhook-id` of every attempt.
    pub id: String,
    pub org_id: String,
    #[sqlx(rename = "type")]
    pub event_type: EventType,
    /// The exact body sent: `{"type", "timestamp", "data"}`.
    pub payload: String,
    pub created_at: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
    pub last_error: Option<String>,
    pub settled_at: Option<i64>,
}

/// How one delivery attempt ends.
#[derive(Debug, Clone)]
pub enum Settle {
    /// The receiver answered 2xx.
    Delivered { now: i64 },
    /// Try again after `delay_ms` of the database's clock.
    Retry { delay_ms: i64, error: String },
    /// Retries gave up.
    Failed { now: i64, error: String },
}

/// What the outbox offers the delivery worker, the events API and metrics.
/// A supertrait of [`super::Store`], so every store has it.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Leases up to `limit` due, pending events to `owner` for `lease_ms`.
    async fn claim_events(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>>;
    /// Records an attempt's end; false when `owner` no longer holds the lease.
    async fn settle_event(&self, seq: i64, owner: &str, end: &Settle) -> StoreResult<bool>;
    /// The position of event `id` of the org (`None`: of any org), for an `after` cursor.
    async fn event_seq(&self, org_id: Option<&str>, id: &str) -> StoreResult<Option<i64>>;
    /// The org's (`None`: every org's) events after position `after_seq`, oldest first.
    async fn list_events(
        &self,
        org_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>>;
    /// Pending and failed events across every org (delivered ones are not counted).
    async fn event_backlog(&self) -> StoreResult<Vec<(DeliveryStatus, i64)>>;
    /// The org's events whose delivery gave up.
    async fn failed_event_count(&self, org_id: &str) -> StoreResult<i64>;
}

/// Milliseconds by the database server's clock.
macro_rules! pg_now_ms {
    () => {
        "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)"
    };
}
macro_rules! sqlite_now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

macro_rules! insert_sql {
    ($now:expr) => {
        concat!(
            "INSERT INTO events (id, org_id, type, payload, created_at, status, attempts,
                                 next_attempt_ms)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, ",
            $now,
            ")"
        )
    };
}

macro_rules! claim_sql {
    ($now:expr, $lock:expr) => {
        concat!(
            "UPDATE events SET lease_owner = $1, lease_until_ms = ",
            $now,
            " + $2
             WHERE seq IN (
                SELECT seq FROM events
                WHERE status = 'pending' AND next_attempt_ms <= ",
            $now,
            " AND (lease_until_ms IS NULL OR lease_until_ms < ",
            $now,
            ")
                ORDER BY seq LIMIT $3",
            $lock,
            ")
               AND status = 'pending' AND (lease_until_ms IS NULL OR lease_until_ms < ",
            $now,
            ")
             RETURNING *"
        )
    };
}

macro_rules! retry_sql {
    ($now:expr) => {
        concat!(
            "UPDATE events SET attempts = attempts + 1, next_attempt_ms = ",
            $now,
            " + $3, last_error = $4, lease_owner = NULL, lease_until_ms = NULL
             WHERE seq = $1 AND lease_owner = $2 AND status = 'pending'"
        )
    };
}

const INSERT: [&str; 2] = [insert_sql!(pg_now_ms!()), insert_sql!(sqlite_now_ms!())];
const CLAIM: [&str; 2] = [
    claim_sql!(pg_now_ms!(), " FOR UPDATE SKIP LOCKED"),
    claim_sql!(sqlite_now_ms!(), ""),
];
const RETRY: [&str; 2] = [retry_sql!(pg_now_ms!()), retry_sql!(sqlite_now_ms!())];

const DELIVERED: &str = "
    UPDATE events SET status = 'delivered', attempts = attempts + 1, settled_at = $3,
        last_error = NULL, lease_owner = NULL, lease_until_ms = NULL
    WHERE seq = $1 AND lease_owner = $2 AND status = 'pending'";
const FAILED: &str = "
    UPDATE events SET status = 'failed', attempts = attempts + 1, settled_at = $3,
        last_error = $4, lease_owner = NULL, lease_until_ms = NULL
    WHERE seq = $1 AND lease_owner = $2 AND status = 'pending'";
const EVENT_SEQ: [&str; 2] = [
    "SELECT seq FROM events WHERE org_id = $1 AND id = $2",
    "SELECT seq FROM events WHERE id = $1",
];
const LIST_EVENTS: [&str; 2] = [
    "SELECT * FROM events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    "SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
];
const EVENT_BACKLOG: &str = "
    SELECT status, COUNT(*) FROM events WHERE status IN ('pending', 'failed') GROUP BY status";
const FAILED_COUNT: &str = "
    SELECT COUNT(*) FROM events WHERE org_id = $1 AND status = 'failed'";
const ORG_SLUG: &str = "SELECT slug FROM orgs WHERE id = $1";

/// Read in `upsert_connection`'s transaction, after its write.
pub(super) const CONNECTION_VERSION: &str = "SELECT version FROM connections WHERE id = $1";

fn pick<DB: Backend>(sql: &[&'static str; 2]) -> &'static str {
    if DB::LABEL == "postgres" {
        sql[0]
    } else {
        sql[1]
    }
}

/// `msg_` + 24 random base62-ish characters, as Standard Webhooks ids look.
pub fn new_event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let bytes = crate::crypto::random_bytes::<24>();
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("msg_{tail}")
}

/// The body of an event about `conn` (its state after the change; for
/// `connection.deleted`, the state it had when deleted).
pub fn event_body(
    event_type: EventType,
    org_slug: &str,
    conn: &Connection,
    reason: Option<&str>,
    now: i64,
) -> String {
    let timestamp = OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let mut data = json!({
        "org": org_slug,
        "connection_id": conn.id,
        "email": conn.email,
        "app_type": conn.app_type,
        "status": conn.status,
    });
    if let Some(reason) = reason {
        data["reason"] = json!(reason);
    }
    json!({"type": event_type, "timestamp": timestamp, "data": data}).to_string()
}

impl<DB> SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// Writes the event about `conn` on `tx`, the changing transaction.
    pub(super) async fn emit(
        tx: &mut DB::Connection,
        event_type: EventType,
        conn: &Connection,
        reason: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let slug: String = sqlx::query_scalar(ORG_SLUG)
            .bind(&conn.org_id)
            .fetch_one(&mut *tx)
            .await?;
        let body = event_body(event_type, &slug, conn, reason, now);
        sqlx::query(pick::<DB>(&INSERT))
            .bind(new_event_id())
            .bind(&conn.org_id)
            .bind(event_type)
            .bind(body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl<DB> Outbox for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn claim_events(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let query = sqlx::query_as(pick::<DB>(&CLAIM))
            .bind(owner)
            .bind(lease_ms)
            .bind(limit);
        let mut rows: Vec<OutboxEvent> = query.fetch_all(&self.pool).await?;
        rows.sort_by_key(|e| e.seq);
        Ok(rows)
    }

    async fn settle_event(&self, seq: i64, owner: &str, end: &Settle) -> StoreResult<bool> {
        let query = match end {
            Settle::Delivered { now } => sqlx::query(DELIVERED).bind(seq).bind(owner).bind(*now),
            Settle::Retry { delay_ms, error } => sqlx::query(pick::<DB>(&RETRY))
                .bind(seq)
                .bind(owner)
                .bind(*delay_ms)
                .bind(error.as_str()),
            Settle::Failed { now, error } => sqlx::query(FAILED)
                .bind(seq)
                .bind(owner)
                .bind(*now)
                .bind(error.as_str()),
        };
        Ok(DB::rows_affected(&query.execute(&self.pool).await?) == 1)
    }

    async fn event_seq(&self, org_id: Option<&str>, id: &str) -> StoreResult<Option<i64>> {
        let query = match org_id {
            Some(org_id) => sqlx::query_scalar(EVENT_SEQ[0]).bind(org_id),
            None => sqlx::query_scalar(EVENT_SEQ[1]),
        };
        Ok(query.bind(id).fetch_optional(&self.pool).await?)
    }

    async fn list_events(
        &self,
        org_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let query = match org_id {
            Some(org_id) => sqlx::query_as(LIST_EVENTS[0]).bind(org_id),
            None => sqlx::query_as(LIST_EVENTS[1]),
        };
        Ok(query
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn event_backlog(&self) -> StoreResult<Vec<(DeliveryStatus, i64)>> {
        Ok(sqlx::query_as(EVENT_BACKLOG).fetch_all(&self.pool).await?)
    }

    async fn failed_event_count(&self, org_id: &str) -> StoreResult<i64> {
        let query = sqlx::query_scalar(FAILED_COUNT).bind(org_id);
        Ok(query.fetch_one(&self.pool).await?)
    }
}

#[async_trait]
impl<S: super::Store> Outbox for super::Deadline<S> {
    async fn claim_events(
        &self,
        owner: &str,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let work = self.inner().claim_events(owner, lease_ms, limit);
        self.within("claim_events", work).await
    }
    async fn settle_event(&self, seq: i64, owner: &str, end: &Settle) -> StoreResult<bool> {
        let work = self.inner().settle_event(seq, owner, end);
        self.within("settle_event", work).await
    }
    async fn event_seq(&self, org_id: Option<&str>, id: &str) -> StoreResult<Option<i64>> {
        let work = self.inner().event_seq(org_id, id);
        self.within("event_seq", work).await
    }
    async fn list_events(
        &self,
        org_id: Option<&str>,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEvent>> {
        let work = self.inner().list_events(org_id, after_seq, limit);
        self.within("list_events", work).await
    }
    async fn event_backlog(&self) -> StoreResult<Vec<(DeliveryStatus, i64)>> {
        self.within("event_backlog", self.inner().event_backlog())
            .await
    }
    async fn failed_event_count(&self, org_id: &str) -> StoreResult<i64> {
        let work = self.inner().failed_event_count(org_id);
        self.within("failed_event_count", work).await
    }
}

//! Claim-once records: connect sessions, pending authorizations and admin
//! links are each used at most once, even by racing callers or replicas.

use sqlx::{AssertSqlSafe, Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::records::{AdminLink, ConnectSession, Consumed, PendingAuthorization};
use super::{sql, StoreResult};

/// A record that can be claimed once: connect sessions, pending
/// authorizations and admin links. Names are fixed here, never from input.
pub(super) trait OneTime {
    const TABLE: &'static str;
    const HASH_COLUMN: &'static str;
    const USED_COLUMN: &'static str;
    fn used_at(&self) -> Option<i64>;
    fn expires_at(&self) -> i64;
}

impl OneTime for ConnectSession {
    const TABLE: &'static str = "connect_sessions";
    const HASH_COLUMN: &'static str = "token_hash";
    const USED_COLUMN: &'static str = "consumed_at";
    fn used_at(&self) -> Option<i64> {
        self.consumed_at
    }
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl OneTime for PendingAuthorization {
    const TABLE: &'static str = "pending_authorizations";
    const HASH_COLUMN: &'static str = "state_hash";
    const USED_COLUMN: &'static str = "used_at";
    fn used_at(&self) -> Option<i64> {
        self.used_at
    }
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl OneTime for AdminLink {
    const TABLE: &'static str = "admin_links";
    const HASH_COLUMN: &'static str = "token_hash";
    const USED_COLUMN: &'static str = "used_at";
    fn used_at(&self) -> Option<i64> {
        self.used_at
    }
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// Claims a one-time record in one statement; if that matches nothing,
/// re-reads the row to say whether it is unknown, used or expired.
pub(super) async fn claim_once<DB, T>(
    pool: &Pool<DB>,
    hash: &str,
    now: i64,
) -> StoreResult<Consumed<T>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    T: OneTime + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
{
    let claim = sql::claim_once(T::TABLE, T::HASH_COLUMN, T::USED_COLUMN);
    let claimed: Option<T> = sqlx::query_as(AssertSqlSafe(claim))
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await?;
    if let Some(record) = claimed {
        return Ok(Consumed::Claimed(record));
    }
    let reread = sql::one_time_by_hash(T::TABLE, T::HASH_COLUMN);
    let row: Option<T> = sqlx::query_as(AssertSqlSafe(reread))
        .bind(hash)
        .fetch_optional(pool)
        .await?;
    Ok(classify(row, now))
}

/// Says why a one-time record could not be claimed.
fn classify<T: OneTime>(row: Option<T>, now: i64) -> Consumed<T> {
    match row {
        None => Consumed::Unknown,
        Some(r) if r.used_at().is_some() => Consumed::AlreadyUsed(r),
        Some(r) if r.expires_at() <= now => Consumed::Expired(r),
        // Claimed by a concurrent caller between our two statements.
        Some(r) => Consumed::AlreadyUsed(r),
    }
}

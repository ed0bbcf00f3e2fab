//! Zoom API rate budgets shared by every replica (the proxy, issue 21).
//!
//! A bucket's permits are counted per window of the database's clock, so
//! replicas with skewed clocks still share one window. A replica claims a
//! few permits at a time and spends them from memory; a claim never grants
//! more than the window has left, so the replicas together never hand out
//! more than the limit. A hold (Zoom answered 429) refuses every claim on
//! its bucket until it ends.

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::backend::{Backend, SqlStore};
use super::StoreResult;

/// What a claim got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// Permits granted, from 0 to the number wanted.
    pub granted: i64,
    /// When the window they belong to ends, database clock, ms.
    pub window_end_ms: i64,
    /// The database's clock when it answered, ms.
    pub now_ms: i64,
    /// A hold in force on the bucket, until this instant (database clock, ms).
    pub held_until_ms: Option<i64>,
}

/// Which window of a bucket a claim draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimWindow {
    /// The window the ledger's clock is in now.
    Current,
    /// The window that begins at this instant (ledger clock, ms, a multiple
    /// of the window's length). Named rather than "the one after now": a
    /// replica asking for the window after its current one must get that
    /// window even when the ledger's clock has already crossed into it.
    /// Granted only while it has not ended and begins within one window.
    Starting(i64),
}

impl ClaimWindow {
    fn start_ms(self) -> Option<i64> {
        match self {
            Self::Current => None,
            Self::Starting(start) => Some(start),
        }
    }
}

/// The budget ledger. A supertrait of [`super::Store`].
#[async_trait]
pub trait RateBudgets: Send + Sync + 'static {
    /// Takes up to `want` permits of one of `bucket`'s windows of
    /// `window_ms` (aligned to the epoch), of which `limit` exist.
    async fn claim_permits(
        &self,
        bucket: &str,
        window_ms: i64,
        limit: i64,
        want: i64,
        which: ClaimWindow,
    ) -> StoreResult<Claim>;

    /// Refuses every claim on `bucket` until `until_ms` (database clock);
    /// an earlier end never shortens a hold already set.
    async fn hold_bucket(&self, bucket: &str, until_ms: i64, reason: &str) -> StoreResult<()>;

    /// Drops windows and holds that ended before `before_ms`.
    async fn prune_budgets(&self, before_ms: i64) -> StoreResult<u64>;
}

/// PostgreSQL: one round trip. The clock is read once; the upsert only
/// counts while the window is open to claims (see [`open_to_claims`]), has
/// permits left, and no hold is in force. `$5`: the window's start, NULL
/// for the current one.
const PG_CLAIM: &str = "
    WITH clock AS (SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT) AS now),
    win AS (SELECT COALESCE(CAST($5 AS BIGINT), clock.now / $2 * $2) AS start, clock.now FROM clock),
    hold AS (
        SELECT h.until_ms FROM zoom_rate_holds h, clock
        WHERE h.bucket = $1 AND h.until_ms > clock.now
    ),
    taken AS (
        INSERT INTO zoom_rate_windows (bucket, window_start, window_end, used)
        SELECT $1, win.start, win.start + $2, $4 FROM win
        WHERE NOT EXISTS (SELECT 1 FROM hold)
          AND win.start + $2 > win.now AND win.start <= win.now + $2
        ON CONFLICT (bucket, window_start) DO UPDATE
            SET used = zoom_rate_windows.used + EXCLUDED.used
            WHERE zoom_rate_windows.used < $3
        RETURNING used
    )
    SELECT (SELECT used FROM taken), win.start + $2, win.now, (SELECT until_ms FROM hold)
    FROM win";

/// SQLite (one process, so the in-process ledger normally serves it): the
/// clock and hold first, then the upsert.
const SQLITE_CLOCK: &str = "
    SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           (SELECT until_ms FROM zoom_rate_holds WHERE bucket = $1
             AND until_ms > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))";
const SQLITE_TAKE: &str = "
    INSERT INTO zoom_rate_windows (bucket, window_start, window_end, used)
    SELECT $1, $2, $3, $5 WHERE true
    ON CONFLICT (bucket, window_start) DO UPDATE
        SET used = zoom_rate_windows.used + excluded.used
        WHERE zoom_rate_windows.used < $4
    RETURNING used";

const HOLD: [&str; 2] = [
    "INSERT INTO zoom_rate_holds (bucket, until_ms, reason) VALUES ($1, $2, $3)
     ON CONFLICT (bucket) DO UPDATE SET
        until_ms = GREATEST(zoom_rate_holds.until_ms, EXCLUDED.until_ms),
        reason = CASE WHEN EXCLUDED.until_ms >= zoom_rate_holds.until_ms
                      THEN EXCLUDED.reason ELSE zoom_rate_holds.reason END",
    "INSERT INTO zoom_rate_holds (bucket, until_ms, reason) VALUES ($1, $2, $3)
     ON CONFLICT (bucket) DO UPDATE SET
        until_ms = MAX(zoom_rate_holds.until_ms, excluded.until_ms),
        reason = CASE WHEN excluded.until_ms >= zoom_rate_holds.until_ms
                      THEN excluded.reason ELSE zoom_rate_holds.reason END",
];
const PRUNE_WINDOWS: &str = "DELETE FROM zoom_rate_windows WHERE window_end < $1";
const PRUNE_HOLDS: &str = "DELETE FROM zoom_rate_holds WHERE until_ms < $1";

/// A window takes claims from its start's one window ahead until it ends:
/// the next window's permits are drawn during the current one's guard, and
/// an ended window's count no longer matters to Zoom.
fn open_to_claims(start: i64, window_ms: i64, now: i64) -> bool {
    start + window_ms > now && start <= now + window_ms
}

/// Permits granted out of `want`, given the count after the upsert (`None`:
/// nothing was counted). The upsert counts only while permits were left, so
/// the count may pass `limit` by less than `want`; the excess is not granted.
fn granted(used_after: Option<i64>, limit: i64, want: i64) -> i64 {
    match used_after {
        Some(used) => (want - (used - limit).max(0)).clamp(0, want),
        None => 0,
    }
}

#[async_trait]
impl<DB> RateBudgets for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn claim_permits(
        &self,
        bucket: &str,
        window_ms: i64,
        limit: i64,
        want: i64,
        which: ClaimWindow,
    ) -> StoreResult<Claim> {
        let window_ms = window_ms.max(1);
        // An unaligned start would be a window of its own, with a limit of its own.
        debug_assert!(which.start_ms().is_none_or(|start| start % window_ms == 0));
        if DB::LABEL == "postgres" {
            let (used, window_end_ms, now_ms, held_until_ms): (Option<i64>, i64, i64, Option<i64>) =
                sqlx::query_as(PG_CLAIM)
                    .bind(bucket)
                    .bind(window_ms)
                    .bind(limit)
                    .bind(want)
                    .bind(which.start_ms())
                    .fetch_one(&self.pool)
                    .await?;
            return Ok(Claim {
                granted: granted(used, limit, want),
                window_end_ms,
                now_ms,
                held_until_ms,
            });
        }
        let (now_ms, held_until_ms): (i64, Option<i64>) = sqlx::query_as(SQLITE_CLOCK)
            .bind(bucket)
            .fetch_one(&self.pool)
            .await?;
        let start = which.start_ms().unwrap_or(now_ms / window_ms * window_ms);
        let window_end_ms = start + window_ms;
        let used = if held_until_ms.is_some() || !open_to_claims(start, window_ms, now_ms) {
            None
        } else {
            sqlx::query_scalar(SQLITE_TAKE)
                .bind(bucket)
                .bind(start)
                .bind(window_end_ms)
                .bind(limit)
                .bind(want)
                .fetch_optional(&self.pool)
                .await?
        };
        Ok(Claim {
            granted: granted(used, limit, want),
            window_end_ms,
            now_ms,
            held_until_ms,
        })
    }

    async fn hold_bucket(&self, bucket: &str, until_ms: i64, reason: &str) -> StoreResult<()> {
        let sql = if DB::LABEL == "postgres" {
            HOLD[0]
        } else {
            HOLD[1]
        };
        sqlx::query(sql)
            .bind(bucket)
            .bind(until_ms)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_budgets(&self, before_ms: i64) -> StoreResult<u64> {
        let windows = sqlx::query(PRUNE_WINDOWS)
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        let holds = sqlx::query(PRUNE_HOLDS)
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(DB::rows_affected(&windows) + DB::rows_affected(&holds))
    }
}

#[async_trait]
impl<S: super::Store> RateBudgets for super::Deadline<S> {
    async fn claim_permits(
        &self,
        bucket: &str,
        window_ms: i64,
        limit: i64,
        want: i64,
        which: ClaimWindow,
    ) -> StoreResult<Claim> {
        let work = self
            .inner()
            .claim_permits(bucket, window_ms, limit, want, which);
        self.within("claim_permits", work).await
    }
    async fn hold_bucket(&self, bucket: &str, until_ms: i64, reason: &str) -> StoreResult<()> {
        let work = self.inner().hold_bucket(bucket, until_ms, reason);
        self.within("hold_bucket", work).await
    }
    async fn prune_budgets(&self, before_ms: i64) -> StoreResult<u64> {
        self.within("prune_budgets", self.inner().prune_budgets(before_ms))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::{granted, open_to_claims};

    #[test]
    fn a_window_takes_claims_from_one_window_ahead_until_it_ends() {
        // Windows of 1000 ms; now is 5_500.
        assert!(open_to_claims(5_000, 1000, 5_500), "the current one");
        assert!(open_to_claims(6_000, 1000, 5_500), "the next one");
        assert!(!open_to_claims(7_000, 1000, 5_500), "two ahead");
        assert!(!open_to_claims(4_000, 1000, 5_500), "an ended one");
        assert!(!open_to_claims(4_000, 1000, 5_000), "ended at this instant");
    }

    #[test]
    fn a_claim_never_grants_past_the_limit() {
        // 8 used of 10, 4 wanted: the upsert counted 12, so 2 are granted.
        assert_eq!(granted(Some(12), 10, 4), 2);
        assert_eq!(granted(Some(4), 10, 4), 4);
        assert_eq!(granted(Some(10), 10, 1), 1);
        assert_eq!(granted(None, 10, 4), 0);
    }
}

//! SQL for refresh-on-use: batched `last_used_at`, the keyset pages the
//! background refresher reads, and the deployment-wide refresh budget.
//!
//! Every page is a range scan of a partial index (`connections_by_use`,
//! `connections_by_refresh_age`, migration 0007) that starts after the
//! previous page's last key, so no page ever reads the whole table.

/// Which connections a sweep page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshKind {
    /// Used since `bound` and expiring before `expiring_before`.
    Used,
    /// Refresh token issued before `bound`, whatever its access token.
    KeepAlive,
}

/// One keyset page of the sweep.
#[derive(Debug, Clone)]
pub struct RefreshPage {
    pub kind: RefreshKind,
    /// `Used`: the oldest use that counts; `KeepAlive`: the newest issue
    /// time that is old enough.
    pub bound: i64,
    /// The key of the previous page's last row; `None` for the first page.
    pub after: Option<(i64, String)>,
    pub expiring_before: i64,
    /// Rows whose lease is live at this instant are skipped.
    pub now: i64,
    pub limit: i64,
}

/// A row of a sweep page: the connection and its key in the page's order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshCandidate {
    pub sweep_key: i64,
    #[sqlx(flatten)]
    pub connection: super::Connection,
}

/// A connection's use and refresh-token age, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ConnectionUse {
    pub last_used_at: Option<i64>,
    pub refresh_issued_at: Option<i64>,
}

/// `$1` the bound, `($2, $3)` the key to start after, `$4` the expiry
/// horizon, `$5` now, `$6` the page size. The row-value comparison is the
/// keyset seek both planners turn into an index range. The unary `+` keeps
/// the planners off `connections_by_expiry`: at scale nearly every row is
/// an idle connection whose token expired long ago, so that range would be
/// most of the table.
pub const USED_PAGE: &str = "
    SELECT *, last_used_at AS sweep_key FROM connections
    WHERE status = 'active' AND (last_used_at, id) > ($2, $3) AND last_used_at >= $1
      AND +access_expires_at < $4 AND refresh_token IS NOT NULL
      AND (lease_until IS NULL OR lease_until < $5)
    ORDER BY last_used_at, id
    LIMIT $6";

/// As `USED_PAGE`; `$1` is the newest issue time that is old enough and
/// `$4` is unused (bound anyway, so both pages take the same arguments).
pub const KEEPALIVE_PAGE: &str = "
    SELECT *, refresh_issued_at AS sweep_key FROM connections
    WHERE status = 'active' AND (refresh_issued_at, id) > ($2, $3) AND refresh_issued_at < $1
      AND refresh_token IS NOT NULL AND $4 = $4
      AND (lease_until IS NULL OR lease_until < $5)
    ORDER BY refresh_issued_at, id
    LIMIT $6";

pub fn page_sql(kind: RefreshKind) -> &'static str {
    match kind {
        RefreshKind::Used => USED_PAGE,
        RefreshKind::KeepAlive => KEEPALIVE_PAGE,
    }
}

pub const CONNECTION_USE: &str =
    "SELECT last_used_at, refresh_issued_at FROM connections WHERE id = $1";

/// Rows per `last_used_at` statement: well under both drivers' limits on
/// bound parameters (two per row, plus the granularity).
pub const USE_BATCH: usize = 1_000;

/// One statement for `rows` uses: `$1` is the granularity in seconds, `$2,
/// $3` the first row's id and time, and so on. A row is written only when
/// its stored use is at least a granularity older than the new one, so a
/// connection in steady use costs one write per granularity however many
/// replicas flush it and however often. A use never moves `last_used_at`
/// back, and it touches neither `version` nor the lease, so it never
/// disturbs a refresh.
pub fn record_use_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    format!(
        "UPDATE connections
         SET last_used_at = u.used_at
         FROM (SELECT column1 AS id, column2 AS used_at FROM (VALUES {}) AS v) AS u
         WHERE connections.id = u.id
           AND (connections.last_used_at IS NULL OR connections.last_used_at <= u.used_at - $1)",
        values.join(", ")
    )
}

/// Claims one token-endpoint call in the current second of the database's
/// clock, if fewer than `$1` were claimed in it: one upsert that either
/// inserts the second, adds one below the cap, or changes nothing.
macro_rules! claim_slot {
    ($now:expr) => {
        concat!(
            "INSERT INTO refresh_rate_slots (at_second, used) VALUES (",
            $now,
            ", 1)
             ON CONFLICT (at_second) DO UPDATE SET used = refresh_rate_slots.used + 1
             WHERE refresh_rate_slots.used < $1
             RETURNING used"
        )
    };
}

const PG_CLAIM_SLOT: &str =
    claim_slot!("CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)");
const SQLITE_CLAIM_SLOT: &str = claim_slot!("CAST(strftime('%s', 'now') AS INTEGER)");

pub fn claim_slot_sql(backend: &str) -> &'static str {
    if backend == "postgres" {
        PG_CLAIM_SLOT
    } else {
        SQLITE_CLAIM_SLOT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_numbers_its_placeholders_in_pairs() {
        let sql = record_use_sql(3);
        assert!(sql.contains("VALUES ($2, $3), ($4, $5), ($6, $7)"), "{sql}");
        assert!(sql.contains("used_at - $1"), "{sql}");
        assert!(!sql.contains("$8"));
    }
}

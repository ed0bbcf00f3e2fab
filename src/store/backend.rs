//! The pool-generic store type and what it needs from a sqlx driver.

use sqlx::{Database, Pool, Postgres, Sqlite};

/// What differs between the drivers beyond sqlx's common traits.
pub trait Backend: Database {
    /// What [`Store::backend`](super::Store::backend) reports.
    const LABEL: &'static str;
    /// sqlx has no common trait for this; each driver's result has the method.
    fn rows_affected(done: &Self::QueryResult) -> u64;
    /// Makes an email comparison byte-ordered, like the email paging index.
    const EMAIL_COLLATION: &'static str;
    /// Prefix that turns a statement into its plan.
    const EXPLAIN: &'static str;
    /// Run first, in the plan's transaction: price sequential scans and sorts
    /// out, so that a plan still showing one proves no index can serve the
    /// statement (a small test table would otherwise be scanned anyway).
    const PLAN_SETUP: &'static [&'static str];
    /// The column of a plan row that holds its text.
    const PLAN_COLUMN: usize;
    /// Broadcasts `$1` to every listening replica; `None`: no such thing.
    const NOTIFY: Option<&'static str>;
}

impl Backend for Sqlite {
    const LABEL: &'static str = "sqlite";
    const EMAIL_COLLATION: &'static str = "";
    const EXPLAIN: &'static str = "EXPLAIN QUERY PLAN ";
    // SQLite's planner already prefers any usable index, whatever the size.
    const PLAN_SETUP: &'static [&'static str] = &[];
    const PLAN_COLUMN: usize = 3;
    const NOTIFY: Option<&'static str> = None;
    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }
}

impl Backend for Postgres {
    const LABEL: &'static str = "postgres";
    const EMAIL_COLLATION: &'static str = " COLLATE \"C\"";
    const EXPLAIN: &'static str = "EXPLAIN ";
    const PLAN_SETUP: &'static [&'static str] = &[
        "SET LOCAL enable_seqscan = off",
        "SET LOCAL enable_sort = off",
    ];
    const PLAN_COLUMN: usize = 0;
    const NOTIFY: Option<&'static str> = Some("SELECT pg_notify('tokenbroker_invalidate', $1)");
    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }
}

/// The store over one pool; its `Store` impl is in `common.rs`, and
/// `SqliteStore` and `PgStore` name its two uses.
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
}

impl<DB: Database> SqlStore<DB> {
    pub(super) fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

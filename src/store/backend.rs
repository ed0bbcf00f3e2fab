//! The pool-generic store type and what it needs from a sqlx driver.

use sqlx::{Database, Pool, Postgres, Sqlite};

/// What differs between the drivers beyond sqlx's common traits.
pub trait Backend: Database {
    /// What [`Store::backend`](super::Store::backend) reports.
    const LABEL: &'static str;
    /// sqlx has no common trait for this; each driver's result has the method.
    fn rows_affected(done: &Self::QueryResult) -> u64;
}

impl Backend for Sqlite {
    const LABEL: &'static str = "sqlite";
    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }
}

impl Backend for Postgres {
    const LABEL: &'static str = "postgres";
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

//! PostgreSQL, for running several replicas against one database.

use std::time::Duration;

use super::backend::SqlStore;
use super::StoreResult;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub type PgStore = SqlStore<sqlx::Postgres>;

impl PgStore {
    /// Connects and applies pending migrations. Migrations take an advisory
    /// lock, so replicas starting together apply them once. A connection is
    /// waited for at most `acquire_timeout`, so an outage fails fast. A
    /// host list in `url` follows the primary (`pg_failover`).
    pub async fn connect(url: &str, acquire_timeout: Duration) -> StoreResult<Self> {
        let pool = super::pg_failover::open_pool(url, acquire_timeout).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self::new(pool))
    }
}

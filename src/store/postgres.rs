//! PostgreSQL, for running several replicas against one database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use super::backend::SqlStore;
use super::StoreResult;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

pub type PgStore = SqlStore<sqlx::Postgres>;

impl PgStore {
    /// Connects and applies pending migrations. Migrations take an advisory
    /// lock, so replicas starting together apply them once. A connection is
    /// waited for at most `acquire_timeout`, so an outage fails fast.
    pub async fn connect(url: &str, acquire_timeout: Duration) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self::new(pool))
    }
}

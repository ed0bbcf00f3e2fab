//! What every command shares: its error type and the database opener.

use crate::config::{Config, ConfigError};
use crate::service::ServiceError;
use crate::store::{self, DynStore};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A configuration problem: one line naming the variable, exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Failed(String),
}

impl From<store::StoreError> for CliError {
    fn from(err: store::StoreError) -> Self {
        CliError::Failed(err.to_string())
    }
}

impl From<ServiceError> for CliError {
    fn from(err: ServiceError) -> Self {
        CliError::Failed(err.to_string())
    }
}

/// Opens the database, mapping "cannot connect" to a configuration error.
pub async fn open_store(config: &Config) -> Result<DynStore, CliError> {
    store::connect_with_deadline(&config.database_url, config.timing.db_query)
        .await
        .map_err(|err| match err {
            store::StoreError::Database(e) => CliError::Config(ConfigError::new(
                "DATABASE_URL",
                format!("cannot open the database: {e}"),
            )),
            other => CliError::Failed(other.to_string()),
        })
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

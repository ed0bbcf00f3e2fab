//! A store error as many callers can hold it: one failed read that a
//! shared load hands to everyone who waited on it.

use super::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SharedStoreError {
    /// As `StoreError::is_unavailable`: worth a 503 and a retry.
    pub unavailable: bool,
    pub message: String,
}

impl From<StoreError> for SharedStoreError {
    fn from(err: StoreError) -> Self {
        Self {
            unavailable: err.is_unavailable(),
            message: err.to_string(),
        }
    }
}

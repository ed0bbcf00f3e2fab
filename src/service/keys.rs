//! Master key rotation: re-seal every secret under the first master key.
//!
//! Each value is replaced with a compare-and-swap, so the command is safe to
//! run while the server runs, safe to interrupt, and a second run finds
//! nothing left to do.

use crate::crypto::{Aad, Keyring};
use crate::store::{DynStore, SEALED_COLUMNS};

use super::ServiceResult;

const PAGE: i64 = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationSummary {
    pub rotated: u64,
    pub already_current: u64,
    /// Changed by someone else between read and write; already under a live key.
    pub skipped_concurrent: u64,
    pub failed: u64,
}

/// Re-seals what is not yet under the write key; `progress` is called once per value checked.
pub async fn rotate(
    store: &DynStore,
    keyring: &Keyring,
    mut progress: impl FnMut(&str, u64),
) -> ServiceResult<RotationSummary> {
    let mut summary = RotationSummary::default();
    for column in SEALED_COLUMNS {
        let label = format!("{}.{}", column.table, column.column);
        let mut after = String::new();
        loop {
            let cells = store.sealed_cells(*column, &after, PAGE).await?;
            let Some(last) = cells.last() else { break };
            after = last.id.clone();
            for cell in &cells {
                progress(&label, 1);
                if keyring.is_current(&cell.sealed) {
                    summary.already_current += 1;
                    continue;
                }
                let aad = Aad::new(*column, &cell.id);
                let plain = match keyring.open(aad, &cell.sealed) {
                    Ok(plain) => plain,
                    Err(err) => {
                        tracing::warn!(table = column.table, column = column.column, id = %cell.id, %err, "cannot re-encrypt");
                        summary.failed += 1;
                        continue;
                    }
                };
                let resealed = keyring.seal(aad, &plain);
                if store
                    .replace_sealed(*column, &cell.id, &cell.sealed, &resealed)
                    .await?
                {
                    summary.rotated += 1;
                } else {
                    summary.skipped_concurrent += 1;
                }
            }
        }
    }
    Ok(summary)
}

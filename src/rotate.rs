//! `tokenbroker rotate-keys`: re-seal every secret under the first master key.
//!
//! Each value is replaced with a compare-and-swap, so the command is safe to
//! run while the server runs, safe to interrupt, and a second run finds
//! nothing left to do.

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::CliError;
use crate::crypto::{Aad, Keyring};
use crate::store::{DynStore, SEALED_COLUMNS};

const PAGE: i64 = 500;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RotationSummary {
    pub rotated: u64,
    pub already_current: u64,
    /// Changed by someone else between read and write; already under a live key.
    pub skipped_concurrent: u64,
    pub failed: u64,
}

pub async fn rotate_all(store: &DynStore, keyring: &Keyring) -> Result<(), CliError> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}] {pos} values checked")
            .expect("static progress template is valid"),
    );
    let summary = rotate(store, keyring, |column, _| {
        bar.set_message(column.to_string());
        bar.inc(1);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "rotate-keys: {} re-encrypted under {:?}, {} already current, {} changed concurrently, {} failed",
        summary.rotated,
        keyring.write_kid(),
        summary.already_current,
        summary.skipped_concurrent,
        summary.failed
    );
    if summary.failed > 0 {
        return Err(CliError::Failed(format!(
            "{} values could not be opened with any configured key; they were left untouched",
            summary.failed
        )));
    }
    Ok(())
}

/// The work itself; `progress` is called once per value checked.
pub async fn rotate(
    store: &DynStore,
    keyring: &Keyring,
    mut progress: impl FnMut(&str, u64),
) -> Result<RotationSummary, CliError> {
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
                let aad = Aad::new(column.table, &cell.id, column.column);
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

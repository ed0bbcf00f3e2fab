//! Refreshes connections shortly before they expire, so the request path
//! rarely waits on Zoom. Uses the same single-flight and lease as requests.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::app::AppState;

use super::refresh::connection_token_within;

const BATCH: i64 = 200;

/// Starts the sweeper. Abort the handle to stop it; refreshes already
/// under way run to completion in their own tasks.
pub fn spawn_background_refresher(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(app.config.refresh_concurrency));
        loop {
            if let Err(err) = sweep(&app, &permits).await {
                tracing::warn!(%err, "background refresh sweep failed");
            }
            if let Err(err) = housekeeping(&app).await {
                tracing::warn!(%err, "housekeeping failed");
            }
            tokio::time::sleep(app.config.refresh_sweep).await;
        }
    })
}

/// Expired one-time records are kept a day for forensics, then deleted.
const KEEP_EXPIRED_SECS: i64 = 86_400;

async fn housekeeping(app: &AppState) -> Result<(), crate::store::StoreError> {
    let removed = app
        .store
        .prune_expired(app.clock.now() - KEEP_EXPIRED_SECS)
        .await?;
    if removed > 0 {
        tracing::info!(removed, "pruned expired one-time records");
    }
    Ok(())
}

async fn sweep(app: &AppState, permits: &Arc<Semaphore>) -> Result<(), crate::store::StoreError> {
    // Look a little past the request path's window so it stays ahead of callers.
    let sweep = app.config.refresh_sweep;
    let ahead = app.config.refresh_ahead.as_secs() + sweep.as_secs() * 2;
    let horizon = app.clock.now() + ahead as i64;
    let due = app
        .store
        .connections_expiring_before(horizon, BATCH)
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    tracing::info!(count = due.len(), "background refresh sweep");
    // Spread the calls over most of the sweep interval instead of bursting.
    let spacing = sweep.mul_f64(0.8) / due.len() as u32;
    for conn in due {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore is never closed");
        let task_app = app.clone();
        tokio::spawn(async move {
            let id = conn.id.clone();
            if let Err(err) = connection_token_within(&task_app, conn, ahead).await {
                tracing::warn!(connection_id = %id, ?err, "background refresh failed");
            }
            drop(permit);
        });
        tokio::time::sleep(spacing).await;
    }
    Ok(())
}

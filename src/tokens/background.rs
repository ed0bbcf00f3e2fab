//! Refreshes connections shortly before they expire, so the request path
//! rarely waits on Zoom; but only connections used recently
//! (`TOKENBROKER_REFRESH_USED_WITHIN_SECS`), plus a keep-alive for refresh
//! tokens older than `TOKENBROKER_KEEPALIVE_AFTER_SECS`. Anything else is
//! refreshed on demand by its next caller, so calls to Zoom follow use, not
//! the number of stored connections.
//!
//! Each pass reads keyset pages of a partial index, never the whole table,
//! and every call it makes first claims a slot of the deployment-wide budget
//! (`TOKENBROKER_REFRESH_RATE_PER_SEC`) in the database. It uses the same
//! single-flight and lease as requests, so of several replicas sweeping the
//! same rows one refreshes each connection.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::store::{Connection, RefreshKind, RefreshPage, StoreError};

use super::refresh::connection_token_within;

const PAGE: i64 = 500;

/// Starts the sweeper. Abort the handle to stop it; refreshes already
/// under way run to completion in their own tasks.
pub fn spawn_background_refresher(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(app.config.refresh_concurrency));
        loop {
            for kind in [RefreshKind::Used, RefreshKind::KeepAlive] {
                if let Err(err) = sweep(&app, &permits, kind).await {
                    tracing::warn!(%err, ?kind, "background refresh sweep failed");
                }
            }
            app.refresher
                .sweep_passes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(err) = housekeeping(&app).await {
                tracing::warn!(%err, "housekeeping failed");
            }
            tokio::time::sleep(app.config.refresh_sweep).await;
        }
    })
}

/// Expired one-time records are kept a day for forensics, then deleted.
const KEEP_EXPIRED_SECS: i64 = 86_400;

async fn housekeeping(app: &AppState) -> Result<(), StoreError> {
    let removed = app
        .store
        .prune_expired(app.clock.now() - KEEP_EXPIRED_SECS)
        .await?;
    if removed > 0 {
        tracing::info!(removed, "pruned expired one-time records");
    }
    Ok(())
}

/// The background window: a little past the request path's, so the sweep
/// stays ahead of callers.
fn horizon_secs(app: &AppState) -> u64 {
    app.config.refresh_ahead.as_secs() + app.config.refresh_sweep.as_secs() * 2
}

/// One pass over the connections of `kind` that are due now.
async fn sweep(
    app: &AppState,
    permits: &Arc<Semaphore>,
    kind: RefreshKind,
) -> Result<usize, StoreError> {
    let policy = app.config.refresh_policy;
    let now = app.clock.now();
    let bound = match kind {
        // Widened by one granularity: a stored use may be that much older
        // than the real last use, and a connection used within the window
        // must never be left out.
        RefreshKind::Used => now - (policy.used_within + policy.usage_granularity).as_secs() as i64,
        RefreshKind::KeepAlive => now - policy.keepalive_after.as_secs() as i64,
    };
    let mut page = RefreshPage {
        kind,
        bound,
        after: None,
        expiring_before: now + horizon_secs(app) as i64,
        now,
        limit: PAGE,
    };
    let mut started = 0;
    loop {
        let due = app.store.refresh_page(&page).await?;
        let Some(last) = due.last() else { break };
        page.after = Some((last.sweep_key, last.connection.id.clone()));
        let more = due.len() as i64 == page.limit;
        let spacing = spacing(app, due.len(), more);
        tracing::info!(count = due.len(), ?kind, "background refresh page");
        for row in due {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            // Re-read: another replica may have refreshed it since the page
            // was read; then no slot of the budget is spent on it.
            let Some(conn) = still_due(app, row.connection, kind).await? else {
                continue;
            };
            take_slot(app).await;
            let task_app = app.clone();
            tokio::spawn(async move {
                let id = conn.id.clone();
                let ahead = window_for(&task_app, &conn, kind);
                if let Err(err) = connection_token_within(&task_app, conn, ahead).await {
                    tracing::warn!(connection_id = %id, ?err, "background refresh failed");
                }
                drop(permit);
            });
            started += 1;
            tokio::time::sleep(spacing).await;
        }
        if !more {
            break;
        }
    }
    Ok(started)
}

/// The row as it is now, if it still needs this pass's refresh.
async fn still_due(
    app: &AppState,
    seen: Connection,
    kind: RefreshKind,
) -> Result<Option<Connection>, StoreError> {
    let Some(now_row) = app.store.connection_by_id(&seen.id).await? else {
        return Ok(None);
    };
    let leased = now_row.lease_until.is_some_and(|t| t >= app.clock.now());
    let moved = now_row.version != seen.version;
    // A keep-alive is done by any refresh since the page was read.
    let done = moved && kind == RefreshKind::KeepAlive;
    let fresh = super::is_fresh(
        now_row.access_expires_at,
        app.clock.now(),
        horizon_secs(app),
    ) && kind == RefreshKind::Used;
    Ok((!leased && !done && !fresh).then_some(now_row))
}

/// How far ahead of expiry the refresh of `conn` counts as due. A
/// keep-alive refreshes whatever the expiry: just past the current one, so
/// that once anyone has refreshed the row it is fresh again, and a replica
/// that lost the lease race does not refresh it a second time.
fn window_for(app: &AppState, conn: &Connection, kind: RefreshKind) -> u64 {
    let horizon = horizon_secs(app);
    match kind {
        RefreshKind::Used => horizon,
        RefreshKind::KeepAlive => {
            let left = conn.access_expires_at.unwrap_or(0) - app.clock.now();
            horizon.max(left.max(0) as u64 + 1)
        }
    }
}

/// Never faster than this replica's share of the budget allows; when the
/// page is the last, spread over most of the sweep interval instead of
/// bursting.
fn spacing(app: &AppState, count: usize, more: bool) -> Duration {
    let fastest = Duration::from_secs(1) / app.config.refresh_policy.rate_per_sec;
    if more || count == 0 {
        return fastest;
    }
    fastest.max(app.config.refresh_sweep.mul_f64(0.8) / count as u32)
}

/// Waits for a slot of the deployment-wide budget. The slots are seconds of
/// the database's clock, shared by every replica; while the database does
/// not answer no slot is taken, so nothing is refreshed unthrottled.
async fn take_slot(app: &AppState) {
    let per_sec = i64::from(app.config.refresh_policy.rate_per_sec);
    loop {
        match app.store.claim_refresh_slot(per_sec).await {
            Ok(true) => return,
            Ok(false) => tokio::time::sleep(until_next_second()).await,
            Err(err) => {
                tracing::warn!(%err, "could not claim a refresh slot");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn until_next_second() -> Duration {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    Duration::from_millis(u64::from(1_000 - millis) + 5)
}

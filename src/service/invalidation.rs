//! The cross-replica invalidation listener (PostgreSQL `LISTEN`) and the
//! key cache lifetime that depends on it; see `crate::invalidation`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::invalidation::{Invalidation, CHANNEL};

/// How long the API key cache holds a key: 60 s while the PostgreSQL
/// listener is connected, else 1 s (a key read is cheap, and a revocation
/// must reach every process within 2 s even without the listener).
pub fn key_cache_ttl(app: &AppState) -> Duration {
    if app.invalidator.is_live() && app.store.backend() == "postgres" {
        crate::app::LOOKUP_CACHE_TTL
    } else {
        Duration::from_secs(1)
    }
}

/// On PostgreSQL with invalidation on: listens until aborted, reconnecting
/// after every loss (a database restart) with a short pause.
pub fn spawn_listener(app: AppState) -> Option<JoinHandle<()>> {
    if app.store.backend() != "postgres" || !app.config.invalidation {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            if let Err(err) = listen(&app).await {
                tracing::warn!(%err, "invalidation listener lost; caches flushed, short TTLs until it is back");
            }
            lost(&app);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }))
}

fn lost(app: &AppState) {
    app.invalidator.set_live(false);
    app.metrics.listener_up(false);
    app.apply_invalidation(&Invalidation::All);
}

async fn listen(app: &AppState) -> Result<(), sqlx::Error> {
    // sqlx retries a refused connection with backoff until its 30 s acquire
    // timeout; bounding each try keeps the reconnect within a second of the
    // database's return instead of whenever that backoff next fires.
    // A host list is tried in order for the primary (a standby refuses LISTEN).
    let connect = async {
        let pool = crate::store::pg_failover::listener_pool(&app.config.database_url).await?;
        PgListener::connect_with(&pool).await
    };
    let mut listener = tokio::time::timeout(Duration::from_secs(1), connect)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    // We reconnect ourselves, so that a loss is seen and the caches flushed.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    // Anything sent while we were not listening is lost: start clean.
    app.apply_invalidation(&Invalidation::All);
    app.invalidator.set_live(true);
    app.metrics.listener_up(true);
    app.invalidator.connects.fetch_add(1, Ordering::SeqCst);
    tracing::info!("invalidation listener connected");
    loop {
        match listener.try_recv().await? {
            Some(note) => app.apply_invalidation(&Invalidation::decode(note.payload())),
            None => return Ok(()),
        }
    }
}

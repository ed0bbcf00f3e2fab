//! Storing a freshly rotated pair. Zoom has already spent the old refresh
//! token, so this pair is the grant: it is kept in memory and its store is
//! retried with backoff for as long as the lease is held (a PostgreSQL
//! restart must not lose it). The store is fenced by the lease owner.

use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::store::RefreshedTokens;
use crate::zoom::TokenSet;

use super::snapshot::{reload, Snapshot};
use super::{LiveToken, TokenError};

/// Room left before the lease ends when the last try starts.
const LEASE_SAFETY: Duration = Duration::from_secs(1);
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// A refresh lease held by this process for one attempt.
pub(super) struct Lease {
    /// Unique per attempt, so a store or release from an attempt whose lease
    /// was taken over is refused, even from the same process.
    pub owner: String,
    /// When the lease ends, by this process's monotonic clock. It starts
    /// before the database's clock does, so it never ends later than the
    /// lease row says.
    pub deadline: Instant,
    /// An earlier attempt sent this refresh token to Zoom and lost the answer.
    pub earlier_answer_lost: bool,
}

pub(super) async fn store_pair(
    app: &AppState,
    snap: Snapshot,
    lease: &Lease,
    tokens: TokenSet,
) -> Result<LiveToken, TokenError> {
    let key = snap.key();
    let now = app.clock.now();
    let expires_at = now + tokens.lifetime_secs();
    let seal = |column: SealedColumn, value: &str| {
        app.keyring.seal_str(Aad::new(column, snap.id()), value)
    };
    let update = RefreshedTokens {
        id: snap.id().to_string(),
        expected_version: snap.version(),
        access_token: seal(snap.access_column(), &tokens.access_token),
        refresh_token: tokens
            .refresh_token
            .as_deref()
            .map(|rt| seal(SealedColumn::CONNECTION_REFRESH_TOKEN, rt)),
        access_expires_at: expires_at,
        scopes: tokens.scope.clone(),
        now,
        lease_owner: lease.owner.clone(),
    };
    let mut pause = FIRST_PAUSE;
    let mut failed_tries = 0u32;
    // Commit before anyone sees the new token: a caller must never hold a
    // token whose refresh token is lost.
    loop {
        match app.store.store_refreshed(snap.slot(), &update).await {
            Ok(true) => break,
            // A try cut off by its deadline may have committed after all.
            Ok(false) if failed_tries > 0 && landed(app, &snap, &update).await => break,
            Ok(false) => {
                app.metrics.refresh(snap.kind(), "lost_race");
                tracing::warn!(
                    key,
                    "row changed or lease taken over during refresh; result discarded"
                );
                return Err(TokenError::Unavailable {
                    retry_after_secs: 1,
                    detail: "the connection changed during refresh".into(),
                });
            }
            Err(err) => {
                failed_tries += 1;
                let next_try_ends = Instant::now() + pause + app.config.timing.db_query;
                if next_try_ends + LEASE_SAFETY >= lease.deadline {
                    app.metrics.refresh(snap.kind(), "store_failed");
                    tracing::error!(
                        key,
                        %err,
                        failed_tries,
                        "the refreshed pair was not stored while the lease was held; it is lost"
                    );
                    return Err(err.into());
                }
                tracing::warn!(
                    key,
                    %err,
                    failed_tries,
                    "storing the refreshed pair failed; retrying while the lease is held"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
    if snap.slot() == crate::store::TokenSlot::Connection {
        app.refresher.journal.record(snap.id(), snap.version() + 1);
    }
    app.refresher.succeed(&key);
    app.forget_tokens(snap.org_id());
    app.metrics.refresh(snap.kind(), "ok");
    tracing::info!(key, expires_at, failed_tries, "token refreshed");
    Ok(LiveToken {
        access_token: tokens.access_token,
        expires_at,
        scopes: tokens.scope.unwrap_or_else(|| snap.scopes().to_string()),
        warnings: Vec::new(),
        // `store_refreshed` moved the row one version on.
        origin: Some(snap.origin(snap.version() + 1)),
    })
}

/// True when the row now holds exactly the pair we sealed (every seal has a
/// fresh nonce, so no other writer can produce the same ciphertext).
async fn landed(app: &AppState, snap: &Snapshot, update: &RefreshedTokens) -> bool {
    matches!(
        reload(app, snap).await,
        Ok(Some(row)) if row.sealed_access() == Some(update.access_token.as_str())
    )
}

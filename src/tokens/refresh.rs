//! Lease-guarded refresh, shared by OAuth connections and S2S credentials.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{Actor, AuditAction, AuditOutcome};
use crate::store::{Connection, RefreshedTokens};
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

pub(super) use super::failure::{rejected, stale_or_unavailable};
use super::single_flight::SingleFlight;
pub(super) use super::snapshot::{open, reload, Snapshot};
use super::{is_fresh, LiveToken, TokenError};

/// Process-wide refresh coordination: single-flight and failure backoff.
#[derive(Default)]
pub struct Refresher {
    flights: SingleFlight,
    backoff: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Refresher {
    fn backoff_remaining(&self, key: &str) -> Option<Duration> {
        let map = self.backoff.lock().expect("backoff map poisoned");
        map.get(key)
            .and_then(|(_, until)| until.checked_duration_since(Instant::now()))
    }

    /// Records a failure; the pause doubles from 1 s up to 30 s.
    pub(super) fn fail(&self, key: &str) -> Duration {
        let mut map = self.backoff.lock().expect("backoff map poisoned");
        let entry = map.entry(key.to_string()).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        let delay = Duration::from_secs((1u64 << (entry.0 - 1).min(5)).min(30));
        entry.1 = Instant::now() + delay;
        delay
    }

    fn succeed(&self, key: &str) {
        self.backoff
            .lock()
            .expect("backoff map poisoned")
            .remove(key);
    }
}

/// A valid token for an OAuth connection, refreshing it first if it is about to expire.
pub async fn connection_token(app: &AppState, conn: Connection) -> Result<LiveToken, TokenError> {
    obtain(
        app,
        Snapshot::Connection(conn),
        app.config.refresh_ahead.as_secs(),
    )
    .await
}

/// As `connection_token`, but refreshes when the token expires within `ahead_secs`.
/// The background refresher uses a wider window than the request path.
pub async fn connection_token_within(
    app: &AppState,
    conn: Connection,
    ahead_secs: u64,
) -> Result<LiveToken, TokenError> {
    obtain(app, Snapshot::Connection(conn), ahead_secs).await
}

pub(super) async fn obtain(
    app: &AppState,
    snap: Snapshot,
    ahead_secs: u64,
) -> Result<LiveToken, TokenError> {
    snap.usable()?;
    if is_fresh(snap.expires_at(), app.clock.now(), ahead_secs) {
        return open(app, &snap, Vec::new());
    }
    let key = snap.key();
    let task_app = app.clone();
    app.refresher
        .flights
        .run(&key, move || async move {
            refresh_guarded(&task_app, snap, ahead_secs).await
        })
        .await
}

/// How long a refresh lease lasts: past the upstream timeout, so a live
/// holder never loses it mid-call.
fn lease_secs(app: &AppState) -> u64 {
    app.config.upstream_timeout.as_secs() * 2 + 5
}

async fn refresh_guarded(
    app: &AppState,
    first: Snapshot,
    ahead_secs: u64,
) -> Result<LiveToken, TokenError> {
    let give_up = Instant::now() + Duration::from_secs(lease_secs(app));
    let mut snap = first;
    loop {
        snap.usable()?;
        let now = app.clock.now();
        if is_fresh(snap.expires_at(), now, ahead_secs) {
            return open(app, &snap, Vec::new());
        }
        if let Some(wait) = app.refresher.backoff_remaining(&snap.key()) {
            return stale_or_unavailable(
                app,
                &snap,
                wait.as_secs() + 1,
                "a recent refresh failed; backing off".into(),
            );
        }
        let until = now + lease_secs(app) as i64;
        if app
            .store
            .acquire_lease(
                snap.slot(),
                snap.id(),
                snap.version(),
                &app.instance_id,
                until,
                now,
            )
            .await?
        {
            return refresh_once(app, snap).await;
        }
        if Instant::now() >= give_up {
            return stale_or_unavailable(
                app,
                &snap,
                1,
                "another replica is still refreshing".into(),
            );
        }
        // Another replica holds the lease, or the row moved on: wait, then re-read.
        tokio::time::sleep(Duration::from_millis(25)).await;
        snap = reload(app, &snap).await?.ok_or(TokenError::NotConnected)?;
    }
}

async fn call_upstream(app: &AppState, snap: &Snapshot) -> Result<TokenSet, UpstreamError> {
    let opened = |column: SealedColumn, sealed: &str| {
        app.keyring
            .open_string(Aad::new(column, snap.id()), sealed)
            .map_err(|e| {
                UpstreamError::Protocol(format!(
                    "stored {} could not be opened: {e}",
                    column.column
                ))
            })
    };
    match snap {
        Snapshot::Connection(c) => {
            let Some((id, secret)) = app.config.zoom_app(c.app_type) else {
                return Err(UpstreamError::Protocol(format!(
                    "no Zoom app is configured for {} connections",
                    c.app_type
                )));
            };
            let sealed = c
                .refresh_token
                .as_deref()
                .ok_or_else(|| UpstreamError::Protocol("no refresh token stored".into()))?;
            let refresh_token = opened(SealedColumn::CONNECTION_REFRESH_TOKEN, sealed)?;
            app.zoom
                .refresh(
                    &ClientAuth {
                        client_id: id,
                        client_secret: secret,
                    },
                    &refresh_token,
                )
                .await
        }
        Snapshot::S2s(s) => {
            let secret = opened(SealedColumn::S2S_CLIENT_SECRET, &s.client_secret)?;
            app.zoom
                .account_credentials(
                    &ClientAuth {
                        client_id: &s.client_id,
                        client_secret: &secret,
                    },
                    &s.account_id,
                )
                .await
        }
    }
}

async fn refresh_once(app: &AppState, snap: Snapshot) -> Result<LiveToken, TokenError> {
    let key = snap.key();
    match call_upstream(app, &snap).await {
        Ok(tokens) => {
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
            };
            // Commit before anyone sees the new token: a caller must never hold
            // a token whose refresh token is lost.
            if !app.store.store_refreshed(snap.slot(), &update).await? {
                app.metrics.refresh(snap.kind(), "lost_race");
                tracing::warn!(key, "row changed during refresh; result discarded");
                return Err(TokenError::Unavailable {
                    retry_after_secs: 1,
                    detail: "the connection changed during refresh".into(),
                });
            }
            app.refresher.succeed(&key);
            app.forget_tokens(snap.org_id());
            app.metrics.refresh(snap.kind(), "ok");
            tracing::info!(key, expires_at, "token refreshed");
            Ok(LiveToken {
                access_token: tokens.access_token,
                expires_at,
                scopes: tokens.scope.unwrap_or_else(|| snap.scopes().to_string()),
                warnings: Vec::new(),
            })
        }
        Err(err @ UpstreamError::Rejected { .. }) => rejected(app, snap, err).await,
        Err(err) => {
            app.store
                .release_lease(snap.slot(), snap.id(), &app.instance_id)
                .await?;
            let wait = app.refresher.fail(&key);
            // Audit the first failure of an outage, not every retry of it.
            if wait.as_secs() <= 1 {
                let detail = format!("{} {}: {err}", snap.table(), snap.id());
                app.audit(
                    Some(snap.org_id()),
                    &Actor::Zoom,
                    AuditAction::ConnectionRefreshFailed,
                    AuditOutcome::Failure,
                    detail,
                )
                .await;
            }
            app.metrics.refresh(snap.kind(), "unavailable");
            stale_or_unavailable(app, &snap, wait.as_secs().max(1), err.to_string())
        }
    }
}

//! Lease-guarded refresh, shared by OAuth connections and S2S credentials.
//!
//! A caller waits at most `TOKENBROKER_UPSTREAM_TIMEOUT_SECS` for a refresh;
//! the refresh itself runs in its own task and, once its call has reached
//! Zoom, awaits the answer and stores the new pair for as long as its lease
//! allows. Zoom rotates on every refresh with no grace period, so giving up
//! on an answer that is merely slow would cost the grant.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::store::{Connection, LeaseEnd};
use crate::zoom::UpstreamError;

use super::failure::{rejected, stale_or_unavailable, unanswered};
use super::persist::{store_pair, Lease};
use super::single_flight::SingleFlight;
use super::snapshot::{open, reload, Snapshot};
use super::upstream::call_upstream;
use super::{is_fresh, LiveToken, TokenError};

/// What a caller who stopped waiting for a slow Zoom is told to wait.
const SLOW_ANSWER_RETRY_SECS: u64 = 2;

/// Process-wide refresh coordination: single-flight, failure backoff, and
/// the uses that decide what the background refresher keeps fresh.
#[derive(Default)]
pub struct Refresher {
    flights: SingleFlight,
    backoff: Mutex<HashMap<String, (u32, Instant)>>,
    pub usage: super::usage::UsageLog,
    /// Background sweep passes completed, so tests and operators can tell
    /// that a pass has happened since some moment.
    pub sweep_passes: std::sync::atomic::AtomicU64,
    /// Versions this process stored, to tell a lost write from a revocation.
    pub(super) journal: super::journal::RotationJournal,
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

    pub(super) fn succeed(&self, key: &str) {
        self.backoff
            .lock()
            .expect("backoff map poisoned")
            .remove(key);
    }

    /// Refreshes under way in this process.
    pub fn in_flight(&self) -> usize {
        self.flights.in_flight()
    }

    /// Waits until no refresh is under way, or `limit` has passed; true when
    /// idle. A shutting-down process calls it so that an answer Zoom is
    /// still sending (the grant itself, once Zoom has rotated) is stored.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }
}

/// A valid token for an OAuth connection, refreshing it first if it is about to expire.
pub async fn connection_token(app: &AppState, conn: Connection) -> Result<LiveToken, TokenError> {
    connection_token_for(app, conn, 0).await
}

/// As `connection_token`, refreshing first if the token would expire within
/// `min_valid` seconds (`min_valid_secs` of the token API).
pub async fn connection_token_for(
    app: &AppState,
    conn: Connection,
    min_valid: u64,
) -> Result<LiveToken, TokenError> {
    obtain(
        app,
        Snapshot::Connection(conn),
        app.config.refresh_ahead.as_secs().max(min_valid),
        Some(app.config.upstream_timeout),
    )
    .await
}

/// As `connection_token`, but refreshes when the token expires within
/// `ahead_secs`, and waits for the refresh to end. The background refresher
/// uses a wider window than the request path, and its concurrency limit
/// must cover whole refreshes.
pub async fn connection_token_within(
    app: &AppState,
    conn: Connection,
    ahead_secs: u64,
) -> Result<LiveToken, TokenError> {
    obtain(app, Snapshot::Connection(conn), ahead_secs, None).await
}

/// What a stored token must be to be handed out as it is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Need {
    /// It outlives this many seconds.
    pub ahead_secs: u64,
    /// It is not the one of this row version, which Zoom refused.
    pub replacing: Option<i64>,
}

impl Need {
    fn met(&self, snap: &Snapshot, now: i64) -> bool {
        is_fresh(snap.expires_at(), now, self.ahead_secs) && self.replacing != Some(snap.version())
    }
}

/// A token for `snap`, refreshing it first when it expires within
/// `ahead_secs`. A caller waits at most `caller_wait` for the refresh.
pub(super) async fn obtain(
    app: &AppState,
    snap: Snapshot,
    ahead_secs: u64,
    caller_wait: Option<Duration>,
) -> Result<LiveToken, TokenError> {
    let need = Need {
        ahead_secs,
        replacing: None,
    };
    obtain_meeting(app, snap, need, caller_wait).await
}

/// As `obtain`, for any [`Need`].
pub(super) async fn obtain_meeting(
    app: &AppState,
    snap: Snapshot,
    need: Need,
    caller_wait: Option<Duration>,
) -> Result<LiveToken, TokenError> {
    snap.usable()?;
    if need.met(&snap, app.clock.now()) {
        return open(app, &snap, Vec::new());
    }
    let key = snap.key();
    let (task_app, task_snap) = (app.clone(), snap.clone());
    let flight = app.refresher.flights.run(&key, move || async move {
        refresh_guarded(&task_app, task_snap, need).await
    });
    let Some(wait) = caller_wait else {
        return flight.await;
    };
    match tokio::time::timeout(wait, flight).await {
        Ok(outcome) => outcome,
        // The refresh goes on in its task; this caller has waited enough.
        Err(_) => stale_or_unavailable(
            app,
            &snap,
            SLOW_ANSWER_RETRY_SECS,
            "Zoom is slow to answer a refresh; it is still awaited".into(),
        ),
    }
}

async fn refresh_guarded(
    app: &AppState,
    first: Snapshot,
    need: Need,
) -> Result<LiveToken, TokenError> {
    let lease_len = app.config.timing.lease();
    // Waiting longer than one lease means its holder is gone; by then the
    // lease has expired and this attempt can take it.
    let give_up = Instant::now() + lease_len + Duration::from_secs(2);
    let mut pause = Duration::from_millis(25);
    let mut snap = first;
    loop {
        snap.usable()?;
        if need.met(&snap, app.clock.now()) {
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
        let owner = format!("{}/{}", app.instance_id, uuid::Uuid::new_v4().simple());
        let started = Instant::now();
        let grant = app
            .store
            .acquire_lease(
                snap.slot(),
                snap.id(),
                snap.version(),
                &owner,
                lease_len.as_secs() as i64,
            )
            .await?;
        if let Some(grant) = grant {
            let lease = Lease {
                owner,
                deadline: started + lease_len,
                earlier_answer_lost: grant.earlier_answer_lost,
            };
            return refresh_once(app, snap, lease).await;
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
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
        snap = reload(app, &snap).await?.ok_or(TokenError::NotConnected)?;
    }
}

async fn refresh_once(
    app: &AppState,
    snap: Snapshot,
    lease: Lease,
) -> Result<LiveToken, TokenError> {
    match call_upstream(app, &snap).await {
        Ok(tokens) => store_pair(app, snap, &lease, tokens).await,
        Err(err @ UpstreamError::Rejected { .. }) => rejected(app, snap, &lease, err).await,
        Err(err @ UpstreamError::AnswerLost(_)) => {
            unanswered(app, snap, &lease, LeaseEnd::AnswerLost, err).await
        }
        Err(err) => unanswered(app, snap, &lease, LeaseEnd::Settled, err).await,
    }
}

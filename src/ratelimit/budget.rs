//! Each Zoom account's budget, drawn on by every proxied call.
//!
//! A bucket is one limit of one account: its per-second (or per-minute)
//! rate of one category, or a daily pool. On PostgreSQL the permits live in
//! the database, shared by every replica: a replica claims a few at a time
//! (a tenth of the window's limit, at most 500) and spends them from memory,
//! so a busy bucket costs one write per claim, not one per call. On SQLite
//! (one process) the whole window is counted here.
//!
//! Windows are aligned to the clock (whole seconds, minutes, UTC days). A
//! call sent in the last `GUARD_MS` of a window may reach Zoom in the next
//! one, so it takes a permit of both: Zoom, counting its own windows, never
//! sees more than a window's limit in one, and nobody waits for a boundary.
//!
//! Windows are named by wall-clock time (the ledger's, or this process's on
//! SQLite), but once known, when one ends here is a monotonic `Instant`: a
//! wall clock stepped back (NTP) cannot stretch a window whose permits are
//! held, and spend them in the window after.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::window::{instant_of, Window};
use crate::store::{ClaimWindow, DynStore, StoreError};

/// A call sent this close to its window's end takes a permit of the next one too.
pub const GUARD_MS: i64 = 50;
/// Windows up to this long get the guard; a daily pool does not need it.
const GUARDED_UP_TO_MS: i64 = 60_000;
/// The most permits one claim takes (a tenth of the limit, at least one):
/// fewer writes, against permits another replica cannot use meanwhile.
const MAX_CLAIM: i64 = 500;

/// One limit a call must fit in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSpec {
    /// `acct:light:rate`, `acct:heavy+resource_intensive:day`.
    pub key: String,
    pub window_ms: i64,
    pub limit: i64,
}

/// Why a call may not go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The bucket's window is spent, or Zoom asked for a pause.
    OverBudget {
        bucket: String,
        retry_after: Duration,
        held: bool,
    },
    /// The shared ledger could not be reached.
    Unavailable(String),
    /// The shared ledger refused the claim itself: retrying will not help.
    Failed(String),
}

#[derive(Default)]
struct Pool {
    current: Window,
    /// The window after, drawn on by calls sent in `current`'s guard.
    next: Window,
    /// Nothing goes before this instant.
    hold_until: Option<Instant>,
    /// The latest end (by name) of a window this process filled itself and
    /// has left: on SQLite, where windows are named by this clock, a clock
    /// stepped back must not name and fill one of them again.
    filled_until_ms: i64,
}

#[derive(Clone, Copy)]
enum Slot {
    Current,
    Next,
}

/// Budgets of every bucket this process has drawn on.
pub struct Budgets {
    shared: Option<DynStore>,
    pools: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Pool>>>>,
    /// Added to the wall clock: see [`Budgets::step_clock`].
    clock_step_ms: AtomicI64,
}

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Budgets {
    /// `shared`: the store whose ledger every replica shares; `None` counts
    /// in this process alone.
    pub fn new(shared: Option<DynStore>) -> Self {
        Self {
            shared,
            pools: Mutex::new(HashMap::new()),
            clock_step_ms: AtomicI64::new(0),
        }
    }

    /// Steps this process's wall clock by `ms`, as an NTP correction does
    /// while permits drawn on the old reading are still held; tests play one.
    pub fn step_clock(&self, ms: i64) {
        self.clock_step_ms.fetch_add(ms, Ordering::Relaxed);
    }

    fn now(&self) -> i64 {
        now_ms() + self.clock_step_ms.load(Ordering::Relaxed)
    }

    fn pool(&self, key: &str) -> Arc<tokio::sync::Mutex<Pool>> {
        let mut pools = self.pools.lock().expect("budget map poisoned");
        if let Some(pool) = pools.get(key) {
            return pool.clone();
        }
        pools.entry(key.to_string()).or_default().clone()
    }

    /// Takes one permit of every bucket in `specs`, or says which refused.
    pub async fn take(&self, specs: &[BucketSpec]) -> Result<(), Refusal> {
        for spec in specs {
            self.take_one(spec).await?;
        }
        Ok(())
    }

    async fn take_one(&self, spec: &BucketSpec) -> Result<(), Refusal> {
        let pool = self.pool(&spec.key);
        let mut pool = pool.lock().await;
        let window = spec.window_ms.max(1);
        let guard = if window <= GUARDED_UP_TO_MS {
            GUARD_MS.min(window / 4)
        } else {
            0
        };
        let guard = Duration::from_millis(guard as u64);
        loop {
            let now = Instant::now();
            if let Some(until) = pool.hold_until.filter(|until| *until > now) {
                return Err(over(spec, until - now, true));
            }
            if !pool.current.open_at(now) {
                let filled_next = if pool.next.more {
                    0
                } else {
                    pool.next.ledger_end_ms
                };
                pool.filled_until_ms = pool
                    .filled_until_ms
                    .max(pool.current.ledger_end_ms)
                    .max(filled_next);
                // The next window has begun: what was drawn for it is current.
                pool.current = if pool.next.open_at(now) {
                    pool.next
                } else {
                    Window::default()
                };
                pool.next = Window::default();
            }
            if !pool.current.open_at(now) {
                self.refill(spec, &mut pool, Slot::Current).await?;
                continue;
            }
            if pool.current.permits == 0 {
                if !pool.current.more {
                    return Err(over(spec, pool.current.left(now), false));
                }
                self.refill(spec, &mut pool, Slot::Current).await?;
                continue;
            }
            if pool.current.left(now) <= guard {
                // May reach Zoom in the next window: it needs a permit there
                // too. Which window is "next" goes by the ledger's names, so
                // clock jitter between two claims never makes it another.
                let next_end = pool.current.ledger_end_ms + window;
                if pool.next.ledger_end_ms != next_end {
                    pool.next = Window {
                        end: pool
                            .current
                            .end
                            .map(|end| end + Duration::from_millis(window as u64)),
                        ledger_end_ms: next_end,
                        permits: 0,
                        more: true,
                    };
                }
                if pool.next.permits == 0 {
                    if !pool.next.more {
                        return Err(over(spec, pool.current.left(now), false));
                    }
                    self.refill(spec, &mut pool, Slot::Next).await?;
                    continue;
                }
                pool.next.permits -= 1;
            }
            pool.current.permits -= 1;
            return Ok(());
        }
    }

    /// Gets permits for the current window or the next: all of them when
    /// this process is the only one, else a claim on the shared ledger.
    async fn refill(&self, spec: &BucketSpec, pool: &mut Pool, slot: Slot) -> Result<(), Refusal> {
        let window = spec.window_ms.max(1);
        let Some(store) = &self.shared else {
            // Only a window not yet filled gets here (an ended current one,
            // or the next only named): it gets its whole limit.
            let (wall, now) = (self.now(), Instant::now());
            let start = match slot {
                Slot::Current => (wall / window * window).max(pool.filled_until_ms),
                Slot::Next => pool.current.ledger_end_ms,
            };
            let filled = Window {
                end: Some(instant_of(start + window, wall, now)),
                ledger_end_ms: start + window,
                permits: spec.limit,
                more: false,
            };
            match slot {
                Slot::Current => pool.current = filled,
                Slot::Next => pool.next = filled,
            }
            return Ok(());
        };
        let want = (spec.limit / 10).clamp(1, MAX_CLAIM);
        let which = match slot {
            Slot::Current => ClaimWindow::Current,
            Slot::Next => ClaimWindow::Starting(pool.current.ledger_end_ms),
        };
        let sent = Instant::now();
        let claim = store
            .claim_permits(&spec.key, window, spec.limit, want, which)
            .await
            .map_err(refusal)?;
        // The ledger counts on the database's clock. Its instants become
        // this process's by their distance from the ledger's reading, which
        // was taken somewhere within the round trip: a window's end is
        // placed from the send (it ends early here, spending stops sooner),
        // a hold's from the answer (it ends late).
        if let Some(until) = claim.held_until_ms {
            pool.hold_until = Some(instant_of(until, claim.now_ms, Instant::now()));
            return Ok(());
        }
        if claim.window_end_ms <= claim.now_ms {
            // On the ledger's clock even the next window has ended: this
            // process is behind. Start over from the ledger's current one.
            pool.current = Window::default();
            pool.next = Window::default();
            return Ok(());
        }
        let filled = Window {
            end: Some(instant_of(claim.window_end_ms, claim.now_ms, sent)),
            ledger_end_ms: claim.window_end_ms,
            permits: claim.granted,
            more: claim.granted == want,
        };
        match slot {
            Slot::Current => pool.current = filled,
            Slot::Next => pool.next = filled,
        }
        Ok(())
    }

    /// Holds `key` until `until_ms` (unix ms) in this process: Zoom answered
    /// 429, or another replica heard it did.
    pub fn hold_here(&self, key: &str, until_ms: i64) {
        let until = instant_of(until_ms, self.now(), Instant::now());
        let pool = self.pool(key);
        // A holder of the lock is mid-claim; it sees the hold on its next
        // pass through the ledger, which has it too.
        let applied = match pool.try_lock() {
            Ok(mut pool) => {
                pool.hold_until = pool.hold_until.max(Some(until));
                true
            }
            Err(_) => false,
        };
        if !applied {
            tokio::spawn(async move {
                let mut pool = pool.lock().await;
                pool.hold_until = pool.hold_until.max(Some(until));
            });
        }
    }

    /// Holds `key` everywhere: here, and in the shared ledger.
    pub async fn hold(&self, key: &str, until_ms: i64, reason: &str) -> Result<(), StoreError> {
        self.hold_here(key, until_ms);
        match &self.shared {
            Some(store) => store.hold_bucket(key, until_ms, reason).await,
            None => Ok(()),
        }
    }

    /// Drops the ledger's rows that ended a minute ago or more.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        match &self.shared {
            Some(store) => store.prune_budgets(self.now() - 60_000).await,
            None => Ok(0),
        }
    }
}

fn over(spec: &BucketSpec, wait: Duration, held: bool) -> Refusal {
    Refusal::OverBudget {
        bucket: spec.key.clone(),
        retry_after: wait.max(Duration::from_millis(1)),
        held,
    }
}

fn refusal(err: StoreError) -> Refusal {
    if err.is_unavailable() {
        Refusal::Unavailable(err.to_string())
    } else {
        Refusal::Failed(err.to_string())
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;

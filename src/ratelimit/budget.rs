//! Each Zoom account's budget, drawn on by every proxied call.
//!
//! A bucket is one limit of one account: its per-second (or per-minute)
//! rate of one category, or a daily pool. On PostgreSQL the permits live in
//! the database, shared by every replica: a replica claims a few at a time
//! (a tenth of the window's limit, at most 50) and spends them from memory,
//! so a busy bucket costs one write per claim, not one per call. On SQLite
//! (one process) the whole window is counted here.
//!
//! Windows are aligned to the clock (whole seconds, minutes, UTC days). A
//! call sent in the last `GUARD_MS` of a window may reach Zoom in the next
//! one, so it takes a permit of both: Zoom, counting its own windows, never
//! sees more than a window's limit in one, and nobody waits for a boundary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::{DynStore, StoreError};

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
}

/// Permits of one window.
#[derive(Default, Clone, Copy)]
struct Window {
    /// The window ends here (unix ms, this clock); 0: none yet.
    end_ms: i64,
    permits: i64,
    /// The ledger may still have permits for this window.
    more: bool,
}

#[derive(Default)]
struct Pool {
    current: Window,
    /// The window after, drawn on by calls sent in `current`'s guard.
    next: Window,
    /// Nothing goes before this instant (unix ms, this clock).
    hold_until_ms: i64,
}

/// Budgets of every bucket this process has drawn on.
pub struct Budgets {
    shared: Option<DynStore>,
    pools: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Pool>>>>,
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
        }
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
        loop {
            let now = now_ms();
            if pool.hold_until_ms > now {
                return Err(over(spec, pool.hold_until_ms - now, true));
            }
            if pool.current.end_ms <= now {
                // The next window has begun: what was drawn for it is current.
                pool.current = if pool.next.end_ms > now {
                    pool.next
                } else {
                    Window::default()
                };
                pool.next = Window::default();
            }
            if pool.current.end_ms <= now {
                self.refill(spec, &mut pool, 0).await?;
                continue;
            }
            if pool.current.permits == 0 {
                if !pool.current.more {
                    return Err(over(spec, pool.current.end_ms - now, false));
                }
                self.refill(spec, &mut pool, 0).await?;
                continue;
            }
            if now >= pool.current.end_ms - guard {
                // May reach Zoom in the next window: it needs a permit there too.
                if pool.next.end_ms != pool.current.end_ms + window {
                    pool.next = Window {
                        end_ms: pool.current.end_ms + window,
                        permits: 0,
                        more: true,
                    };
                }
                if pool.next.permits == 0 {
                    if !pool.next.more {
                        return Err(over(spec, pool.next.end_ms - window - now, false));
                    }
                    self.refill(spec, &mut pool, 1).await?;
                    continue;
                }
                pool.next.permits -= 1;
            }
            pool.current.permits -= 1;
            return Ok(());
        }
    }

    /// Gets permits for the current window (`ahead` 0) or the next (1): all
    /// of them when this process is the only one, else a claim on the
    /// shared ledger.
    async fn refill(&self, spec: &BucketSpec, pool: &mut Pool, ahead: i64) -> Result<(), Refusal> {
        let window = spec.window_ms.max(1);
        let Some(store) = &self.shared else {
            let start = (now_ms() / window + ahead) * window;
            let slot = if ahead == 0 {
                &mut pool.current
            } else {
                &mut pool.next
            };
            // A window met for the first time (or only named, `more` still
            // set) gets its whole limit; one already filled has no more.
            if slot.end_ms != start + window || slot.more {
                *slot = Window {
                    end_ms: start + window,
                    permits: spec.limit,
                    more: false,
                };
            } else {
                slot.more = false;
            }
            return Ok(());
        };
        let want = (spec.limit / 10).clamp(1, MAX_CLAIM);
        let claim = store
            .claim_permits(&spec.key, window, spec.limit, want, ahead)
            .await
            .map_err(unavailable)?;
        // The ledger counts on the database's clock; this process keeps
        // its own, so the window's end is moved by the difference.
        let skew = claim.now_ms - now_ms();
        if let Some(until) = claim.held_until_ms {
            pool.hold_until_ms = until - skew;
            return Ok(());
        }
        let end_ms = claim.window_end_ms - skew;
        let slot = if ahead == 0 {
            &mut pool.current
        } else {
            &mut pool.next
        };
        *slot = Window {
            end_ms,
            permits: claim.granted,
            more: claim.granted == want,
        };
        Ok(())
    }

    /// Holds `key` until `until_ms` (unix ms) in this process: Zoom answered
    /// 429, or another replica heard it did.
    pub fn hold_here(&self, key: &str, until_ms: i64) {
        let pool = self.pool(key);
        // A holder of the lock is mid-claim; it sees the hold on its next
        // pass through the ledger, which has it too.
        let applied = match pool.try_lock() {
            Ok(mut pool) => {
                pool.hold_until_ms = pool.hold_until_ms.max(until_ms);
                true
            }
            Err(_) => false,
        };
        if !applied {
            tokio::spawn(async move {
                let mut pool = pool.lock().await;
                pool.hold_until_ms = pool.hold_until_ms.max(until_ms);
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
            Some(store) => store.prune_budgets(now_ms() - 60_000).await,
            None => Ok(0),
        }
    }
}

fn over(spec: &BucketSpec, wait_ms: i64, held: bool) -> Refusal {
    Refusal::OverBudget {
        bucket: spec.key.clone(),
        retry_after: Duration::from_millis(wait_ms.max(1) as u64),
        held,
    }
}

fn unavailable(err: StoreError) -> Refusal {
    Refusal::Unavailable(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(limit: i64, window_ms: i64) -> BucketSpec {
        BucketSpec {
            key: "acct:light:rate".into(),
            window_ms,
            limit,
        }
    }

    #[tokio::test]
    async fn in_process_windows_admit_the_limit_then_refuse_until_the_next() {
        let budgets = Budgets::new(None);
        let s = spec(5, 60_000);
        let mut admitted = 0;
        for _ in 0..8 {
            match budgets.take(std::slice::from_ref(&s)).await {
                Ok(()) => admitted += 1,
                Err(Refusal::OverBudget {
                    retry_after, held, ..
                }) => {
                    assert!(!held);
                    assert!(retry_after <= Duration::from_secs(60));
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        // A minute window could be entered in its guard; then all 5 come
        // from the next one, still 5.
        assert_eq!(admitted, 5);
    }

    #[tokio::test]
    async fn calls_across_window_boundaries_and_their_guards_all_pass_under_a_high_limit() {
        // 100 ms windows: their last 25 ms are guard, where a call also
        // draws on the next window. Over 0.6 s every call must still pass.
        let budgets = Budgets::new(None);
        let s = spec(1_000_000, 100);
        let until = std::time::Instant::now() + Duration::from_millis(600);
        let mut calls = 0;
        while std::time::Instant::now() < until {
            budgets.take(std::slice::from_ref(&s)).await.unwrap();
            calls += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(calls > 100, "{calls}");
    }

    #[tokio::test]
    async fn a_call_in_the_guard_counts_in_both_windows() {
        // Limit 2 per 100 ms window: calls in one window's guard use up the
        // next window's permits too, so the next window admits fewer.
        let budgets = Budgets::new(None);
        let s = spec(2, 100);
        // Wait for the start of a guard (the last 25 ms of a window).
        while now_ms() % 100 < 76 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        budgets.take(std::slice::from_ref(&s)).await.unwrap();
        budgets.take(std::slice::from_ref(&s)).await.unwrap();
        // Both windows are spent now: nothing until the one after.
        assert!(budgets.take(std::slice::from_ref(&s)).await.is_err());
    }

    #[tokio::test]
    async fn a_hold_refuses_at_once() {
        let budgets = Budgets::new(None);
        let s = spec(100, 1000);
        budgets.hold_here(&s.key, now_ms() + 5_000);
        match budgets.take(&[s]).await {
            Err(Refusal::OverBudget {
                held: true,
                retry_after,
                ..
            }) => {
                assert!(retry_after > Duration::from_secs(4));
            }
            other => panic!("{other:?}"),
        }
    }
}

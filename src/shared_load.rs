//! Callers who ask for the same thing at the same moment share one load.
//!
//! Unlike `SingleFlight`, nothing is spawned: the callers themselves drive
//! the shared future, so a load costs no task and no hand-off between
//! threads (a cache miss stays as cheap as it was without sharing). If
//! every caller stops waiting, the load is dropped with them; that is right
//! for reads, and wrong for a refresh, which is why refreshes are flights.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared, WeakShared};

type Load<T> = Shared<BoxFuture<'static, T>>;
type Loads<T> = Arc<Mutex<HashMap<String, (u64, WeakShared<BoxFuture<'static, T>>)>>>;

/// Entries of loads everyone abandoned are pruned once the map is this big.
const PRUNE_AT: usize = 1024;

pub struct SharedLoad<T: Clone + Send + Sync + 'static> {
    loads: Loads<T>,
    next_id: AtomicU64,
}

impl<T: Clone + Send + Sync + 'static> Default for SharedLoad<T> {
    fn default() -> Self {
        Self {
            loads: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SharedLoad<T> {
    /// `make()`'s result, or that of the load for `key` already under way.
    /// A finished load is forgotten at once: a caller who comes after it
    /// starts afresh and never receives an older answer.
    pub async fn run<F, Fut>(&self, key: &str, make: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let load = {
            let mut loads = self.loads.lock().expect("shared-load map poisoned");
            match loads.get(key).and_then(|(_, weak)| weak.upgrade()) {
                Some(existing) => existing,
                None => {
                    if loads.len() >= PRUNE_AT {
                        loads.retain(|_, (_, weak)| weak.upgrade().is_some());
                    }
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let work = make();
                    let registry = Arc::clone(&self.loads);
                    let owned_key = key.to_string();
                    let load: Load<T> = async move {
                        let value = work.await;
                        forget(&registry, &owned_key, id);
                        value
                    }
                    .boxed()
                    .shared();
                    let weak = load.downgrade().expect("not yet polled");
                    loads.insert(key.to_string(), (id, weak));
                    load
                }
            }
        };
        load.await
    }

    /// Loads remembered, abandoned ones not yet pruned included.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.loads.lock().expect("shared-load map poisoned").len()
    }
}

fn forget<T>(registry: &Loads<T>, key: &str, id: u64) {
    let mut loads = registry.lock().expect("shared-load map poisoned");
    if loads.get(key).is_some_and(|(i, _)| *i == id) {
        loads.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn concurrent_callers_share_one_load_and_a_later_one_loads_anew() {
        let loads = SharedLoad::<u32>::default();
        let runs = Arc::new(AtomicU64::new(0));
        let (release, released) = oneshot::channel::<()>();
        let released = released.shared();
        let calls = (0..10).map(|_| {
            let (runs, released) = (runs.clone(), released.clone());
            loads.run("k", move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = released.await;
                7
            })
        });
        let releaser = async {
            tokio::task::yield_now().await;
            release.send(()).unwrap();
        };
        let (results, ()) = tokio::join!(futures::future::join_all(calls), releaser);
        assert!(results.iter().all(|v| *v == 7));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(loads.remembered(), 0, "a finished load is forgotten");
        assert_eq!(loads.run("k", || async { 8 }).await, 8);
    }

    #[tokio::test]
    async fn an_abandoned_load_is_not_joined_and_is_pruned() {
        let loads = SharedLoad::<u32>::default();
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            loads.run("k", futures::future::pending),
        )
        .await;
        assert!(gave_up.is_err());
        // Nobody drives the abandoned load: the next caller starts its own.
        assert_eq!(loads.run("k", || async { 9 }).await, 9);
        for i in 0..PRUNE_AT {
            let key = format!("gone{i}");
            let _ = tokio::time::timeout(
                Duration::from_millis(1),
                loads.run(&key, futures::future::pending),
            )
            .await;
        }
        let _ = loads.run("last", || async { 1 }).await;
        assert!(loads.remembered() <= PRUNE_AT, "abandoned entries pruned");
    }
}

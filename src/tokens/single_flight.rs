//! One in-flight refresh per key inside this process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};
use tracing::Instrument;

use super::{LiveToken, TokenError};

type Outcome = Result<LiveToken, TokenError>;
type Flight = Shared<BoxFuture<'static, Outcome>>;
type Flights = Arc<Mutex<HashMap<String, (u64, Flight)>>>;

#[derive(Default)]
pub struct SingleFlight {
    flights: Flights,
    next_id: AtomicU64,
}

impl SingleFlight {
    /// Runs `make()` unless a flight for `key` is already under way, in which
    /// case its result is shared. The work is spawned, so it finishes and
    /// commits even if every caller hangs up or stops waiting: an abandoned
    /// refresh would otherwise burn the rotated refresh token. The task
    /// removes its own entry when done, so a result is never handed to a
    /// caller who arrives after it (that caller starts afresh).
    pub async fn run<F, Fut>(&self, key: &str, make: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().expect("single-flight map poisoned");
            match flights.get(key) {
                Some((_, existing)) => existing.clone(),
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let work = make();
                    let registry = Arc::clone(&self.flights);
                    let owned_key = key.to_string();
                    // The entry is inserted below while the lock is held, so
                    // the task cannot try to remove it before it exists.
                    let handle = tokio::spawn(
                        async move {
                            // Dropped when the work ends, even by a panic.
                            let _entry = Entry {
                                registry,
                                key: owned_key,
                                id,
                            };
                            work.await
                        }
                        // The first caller's span: the refresh and its Zoom call
                        // are children of the request that started them.
                        .in_current_span(),
                    );
                    let flight = async move {
                        handle.await.unwrap_or_else(|e| {
                            Err(TokenError::Internal(format!("refresh task failed: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    flights.insert(key.to_string(), (id, flight.clone()));
                    flight
                }
            }
        };
        flight.await
    }

    /// How many flights are under way (for tests and diagnostics).
    pub fn in_flight(&self) -> usize {
        self.flights
            .lock()
            .expect("single-flight map poisoned")
            .len()
    }
}

/// Removes a flight's entry when its task ends, however it ends.
struct Entry {
    registry: Flights,
    key: String,
    id: u64,
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Never panic in drop: a poisoned map is left as it is.
        if let Ok(mut flights) = self.registry.lock() {
            if flights.get(&self.key).is_some_and(|(i, _)| *i == self.id) {
                flights.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::sync::oneshot;

    fn token(value: &str) -> LiveToken {
        LiveToken {
            access_token: value.into(),
            expires_at: 0,
            scopes: String::new(),
            warnings: Vec::new(),
            origin: None,
        }
    }

    #[tokio::test]
    async fn a_flight_nobody_waits_for_finishes_and_is_forgotten() {
        let flights = SingleFlight::default();
        let (release, released) = oneshot::channel::<()>();
        let (done, finished) = oneshot::channel::<()>();
        // The only caller gives up at once; the work must still run to the end.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            flights.run("k", move || async move {
                let _ = released.await;
                let _ = done.send(());
                Ok(token("first"))
            }),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(flights.in_flight(), 1);
        release.send(()).unwrap();
        finished.await.unwrap();
        // Once the task is done, a new caller starts a new flight instead of
        // receiving the old result.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while flights.in_flight() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "entry never removed"
            );
            tokio::task::yield_now().await;
        }
        let second = flights
            .run("k", || async { Ok(token("second")) })
            .await
            .unwrap();
        assert_eq!(second.access_token, "second");
    }

    #[tokio::test]
    async fn a_flight_that_panics_is_forgotten_too() {
        let flights = SingleFlight::default();
        let failed = flights.run("k", || async { panic!("refresh bug") }).await;
        assert!(matches!(failed, Err(TokenError::Internal(_))));
        assert_eq!(flights.in_flight(), 0);
        let next = flights.run("k", || async { Ok(token("next")) }).await;
        assert_eq!(next.unwrap().access_token, "next");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_flight() {
        let flights = SingleFlight::default();
        let runs = Arc::new(AtomicU64::new(0));
        let (release, released) = oneshot::channel::<()>();
        let released = released.shared();
        // join_all polls every call once before the work can finish, so all
        // ten find the flight the first one started.
        let calls = (0..10).map(|_| {
            let (runs, released) = (runs.clone(), released.clone());
            flights.run("k", move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                let _ = released.await;
                Ok(token("shared"))
            })
        });
        let releaser = async {
            tokio::task::yield_now().await;
            release.send(()).unwrap();
        };
        let (results, ()) = tokio::join!(futures::future::join_all(calls), releaser);
        for result in results {
            assert_eq!(result.unwrap().access_token, "shared");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}

//! One in-flight refresh per key inside this process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use futures::future::{BoxFuture, FutureExt, Shared};

use super::{LiveToken, TokenError};

type Outcome = Result<LiveToken, TokenError>;
type Flight = Shared<BoxFuture<'static, Outcome>>;

#[derive(Default)]
pub struct SingleFlight {
    flights: Mutex<HashMap<String, Flight>>,
}

impl SingleFlight {
    /// Runs `make()` unless a flight for `key` is already under way, in which
    /// case its result is shared. The work is spawned, so it finishes and
    /// commits even if every caller hangs up: an abandoned refresh would
    /// otherwise burn the rotated refresh token.
    pub async fn run<F, Fut>(&self, key: &str, make: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().expect("single-flight map poisoned");
            match flights.get(key) {
                Some(existing) => existing.clone(),
                None => {
                    let handle = tokio::spawn(make());
                    let flight = async move {
                        handle.await.unwrap_or_else(|e| {
                            Err(TokenError::Internal(format!("refresh task failed: {e}")))
                        })
                    }
                    .boxed()
                    .shared();
                    flights.insert(key.to_string(), flight.clone());
                    flight
                }
            }
        };
        let outcome = flight.clone().await;
        let mut flights = self.flights.lock().expect("single-flight map poisoned");
        if flights
            .get(key)
            .is_some_and(|current| current.ptr_eq(&flight))
        {
            flights.remove(key);
        }
        outcome
    }
}

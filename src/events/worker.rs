//! The delivery worker: claims due events from the outbox under a lease on
//! the database's clock, POSTs each one signed, and records the outcome.
//!
//! At least once: an event leaves `pending` only after a 2xx answer (then
//! `delivered`) or once its retry window has passed (then `failed`). A
//! replica killed mid-delivery leaves its lease to expire, and any replica
//! sends the event again with the same `webhook-id`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::app::AppState;
use crate::store::{OutboxEvent, Settle};

/// Events one replica takes per claim.
const BATCH: i64 = 16;

/// The running worker, to stop it gracefully.
pub struct Delivery {
    handle: JoinHandle<()>,
    stop: Arc<(AtomicBool, Notify)>,
    grace: Duration,
}

impl Delivery {
    /// Claims nothing more and lets the attempts under way finish (up to
    /// one request timeout); an attempt cut off is retried by any replica
    /// once its lease ends.
    pub async fn shutdown(self) {
        self.stop.0.store(true, Ordering::SeqCst);
        self.stop.1.notify_one();
        let mut handle = self.handle;
        if tokio::time::timeout(self.grace, &mut handle).await.is_err() {
            tracing::warn!("event deliveries still under way at exit; they will be retried");
            handle.abort();
        }
    }
}

/// Starts the worker when `TOKENBROKER_EVENTS_URL` is set.
pub fn spawn_delivery(app: AppState) -> Option<Delivery> {
    let cfg = &app.config.events;
    let (url, secret) = (cfg.url.clone()?, cfg.secret.clone()?);
    let client = reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the HTTP client's configuration is static");
    let stop = Arc::new((AtomicBool::new(false), Notify::new()));
    let grace = cfg.timeout + Duration::from_secs(1);
    let worker = Worker {
        app,
        client,
        url,
        secret,
        stop: stop.clone(),
    };
    let handle = tokio::spawn(async move { worker.run().await });
    Some(Delivery {
        handle,
        stop,
        grace,
    })
}

struct Worker {
    app: AppState,
    client: reqwest::Client,
    url: url::Url,
    secret: crate::events::sign::WebhookSecret,
    stop: Arc<(AtomicBool, Notify)>,
}

impl Worker {
    fn stopping(&self) -> bool {
        self.stop.0.load(Ordering::SeqCst)
    }

    async fn run(self) {
        let cfg = &self.app.config.events;
        // Longer than an attempt can take, so a live holder never loses it.
        let lease_ms = 2 * cfg.timeout.as_millis() as i64 + 1_000;
        while !self.stopping() {
            let owner = &self.app.instance_id;
            let batch = match self.app.store.claim_events(owner, lease_ms, BATCH).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::warn!(%err, "could not claim events to deliver");
                    Vec::new()
                }
            };
            let full = batch.len() as i64 == BATCH;
            futures::future::join_all(batch.iter().map(|e| self.deliver(e))).await;
            if !full {
                tokio::select! {
                    _ = tokio::time::sleep(cfg.poll) => {}
                    _ = self.stop.1.notified() => {}
                }
            }
        }
    }

    async fn deliver(&self, event: &OutboxEvent) {
        let span = tracing::info_span!(
            "event_delivery",
            event_id = %event.id,
            event_type = %event.event_type,
            attempt = event.attempts + 1,
            otel.kind = "client",
        );
        self.attempt(event).instrument(span).await
    }

    async fn attempt(&self, event: &OutboxEvent) {
        let app = &self.app;
        let now = app.clock.now();
        // Receivers check this against their own clock: the real one.
        let sent_at = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = self.secret.sign(&event.id, sent_at, &event.payload);
        let sent = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", sent_at.to_string())
            .header("webhook-signature", signature)
            // The CRM may continue the delivery's trace.
            .headers(crate::telemetry::trace_headers())
            .body(event.payload.clone())
            .send()
            .await;
        let error = match sent {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => Some(format!(
                "the receiver answered HTTP {}",
                resp.status().as_u16()
            )),
            Err(err) => Some(err.without_url().to_string()),
        };
        let (end, outcome) = match error {
            None => (Settle::Delivered { now }, "delivered"),
            Some(error) => self.after_failure(event, error),
        };
        match &end {
            Settle::Delivered { .. } => tracing::info!("event delivered"),
            Settle::Retry { delay_ms, error } => {
                tracing::warn!(delay_ms, %error, "event delivery failed; will retry")
            }
            Settle::Failed { error, .. } => {
                tracing::error!(%error, "event delivery gave up; the event is marked failed")
            }
        }
        app.metrics.event_delivery(outcome);
        let owner = &app.instance_id;
        match app.store.settle_event(event.seq, owner, &end).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!("the event's lease had passed to another replica"),
            // The lease runs out and the event is sent again: at least once.
            Err(err) => tracing::warn!(%err, "could not record the delivery's outcome"),
        }
    }

    /// A retry with exponential backoff and jitter, or `failed` once the
    /// retry window since the event was written has passed.
    fn after_failure(&self, event: &OutboxEvent, error: String) -> (Settle, &'static str) {
        let cfg = &self.app.config.events;
        let now = self.app.clock.now();
        let elapsed_ms = (now - event.created_at).max(0) * 1_000;
        let window_ms = cfg.give_up_after.as_millis() as i64;
        if elapsed_ms >= window_ms {
            return (Settle::Failed { now, error }, "failed");
        }
        let delay_ms = backoff_ms(
            cfg.retry_base.as_millis() as i64,
            cfg.retry_cap.as_millis() as i64,
            event.attempts,
        );
        // The last try comes at the end of the window, not after it.
        let delay_ms = delay_ms.min(window_ms - elapsed_ms).max(1);
        (Settle::Retry { delay_ms, error }, "retried")
    }
}

/// `base * 2^attempts`, capped, then scaled by a random factor in [0.5, 1.0).
pub fn backoff_ms(base_ms: i64, cap_ms: i64, attempts: i64) -> i64 {
    let exp = base_ms.saturating_mul(1_i64 << attempts.clamp(0, 30));
    let capped = exp.min(cap_ms).max(1);
    let jitter = u16::from_le_bytes(crate::crypto::random_bytes::<2>());
    capped / 2 + (capped / 2) * i64::from(jitter) / 65_536
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        for attempts in 0..40 {
            let d = backoff_ms(1_000, 3_600_000, attempts);
            let full = (1_000_i64 << attempts.min(30)).min(3_600_000);
            assert!(d >= full / 2 && d <= full, "{attempts}: {d} vs {full}");
        }
    }
}

//! How a proxied call waits: for its permits (while the caller's deadline
//! allows), for Zoom's pause after a `429` (held on every replica), and
//! between retries (jittered exponential backoff).

use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::invalidation::Invalidation;
use crate::ratelimit::{BucketSpec, Refusal};
use crate::service::{ServiceError, ServiceResult};

/// Takes the call's permits, waiting for them while the deadline allows.
pub(super) async fn within_budget(
    app: &AppState,
    specs: &[BucketSpec],
    deadline: Option<Instant>,
) -> ServiceResult<()> {
    loop {
        match app.budgets.take(specs).await {
            Ok(()) => return Ok(()),
            Err(Refusal::OverBudget {
                retry_after,
                held,
                bucket,
            }) => {
                if fits(deadline, retry_after) {
                    tokio::time::sleep(retry_after).await;
                    continue;
                }
                let why = if held {
                    "Zoom asked for a pause on"
                } else {
                    "the broker's budget is spent for"
                };
                let limit = bucket.split(':').skip(1).collect::<Vec<_>>().join(" ");
                return Err(ServiceError::RateLimited {
                    message: format!("{why} this Zoom account's {limit} limit; retry after the time Retry-After gives"),
                    retry_after_secs: secs_up(retry_after),
                });
            }
            Err(Refusal::Unavailable(detail)) => {
                return Err(ServiceError::DatabaseUnavailable(detail))
            }
            Err(Refusal::Failed(detail)) => {
                return Err(ServiceError::internal(format!(
                    "the rate ledger refused a claim: {detail}"
                )))
            }
        }
    }
}

/// Holds `bucket` on every replica: here, in the shared ledger, and by notice.
pub(super) async fn hold(app: &AppState, bucket: &str, until_ms: i64, daily: bool) {
    let reason = if daily {
        "zoom daily limit"
    } else {
        "zoom 429"
    };
    if let Err(err) = app.budgets.hold(bucket, until_ms, reason).await {
        tracing::warn!(%err, "could not record Zoom's rate limit in the shared ledger");
    }
    app.invalidate(Invalidation::RateHold {
        bucket: bucket.to_string(),
        until_ms,
    });
    tracing::info!(until_ms, daily, "Zoom answered 429; the bucket is held");
}

pub(super) fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

pub(super) fn fits(deadline: Option<Instant>, pause: Duration) -> bool {
    remaining(deadline).is_some_and(|left| pause < left)
}

/// Sleeps before send `sends + 1` (100 ms doubling, ±50 %), if the deadline allows.
pub(super) async fn backoff(deadline: Option<Instant>, sends: u32) -> bool {
    let base = 100u64 << (sends - 1).min(4);
    let jitter = u64::from(crate::crypto::random_bytes::<1>()[0]) * base / 255;
    let pause = Duration::from_millis(base / 2 + jitter);
    if !fits(deadline, pause) {
        return false;
    }
    tokio::time::sleep(pause).await;
    true
}

pub(super) fn secs_up(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

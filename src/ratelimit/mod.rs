//! Zoom's rate limits, kept per Zoom account across replicas (issue 21).
//!
//! `limits` holds the figures (Zoom's plans, the deployment's and orgs'
//! overrides), `categories` the label of each endpoint, `budget` the
//! permits every proxied call draws, and `zoom_answer` what a `429` from
//! Zoom says.

pub mod budget;
pub mod categories;
pub mod limits;
pub mod metrics;
mod window;
pub mod zoom_answer;

pub use budget::{BucketSpec, Budgets, Refusal};
pub use categories::{classify, Classified};
pub use limits::{AccountLimits, RateLimits};
pub use zoom_answer::{limit_hit, LimitHit};

use crate::domain::RateCategory;

const DAY_MS: i64 = 86_400_000;
/// A category the broker does not limit still takes permits, so that a
/// hold (Zoom said 429) reaches it; this many a second never refuses.
const UNLIMITED: i64 = 1 << 40;

/// The bucket a category's holds and per-window permits live in.
pub fn rate_bucket(account: &str, category: RateCategory) -> String {
    format!("{account}:{category}:rate")
}

/// The buckets a call of `category` on `account` draws from: its rate,
/// then each daily pool it belongs to.
pub fn buckets_for(
    account: &str,
    category: RateCategory,
    limits: &AccountLimits,
) -> Vec<BucketSpec> {
    let rate = limits.rates.get(&category);
    let mut specs = vec![BucketSpec {
        key: rate_bucket(account, category),
        window_ms: rate.map_or(1000, |r| r.window_ms),
        limit: rate.map_or(UNLIMITED, |r| r.count),
    }];
    for pool in limits
        .daily
        .iter()
        .filter(|p| p.categories.contains(&category))
    {
        specs.push(BucketSpec {
            key: format!("{account}:{}:day", pool.name()),
            window_ms: DAY_MS,
            limit: pool.limit,
        });
    }
    specs
}

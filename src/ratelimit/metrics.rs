//! Prometheus series of the Zoom API proxy. Labels are bounded: a category
//! is one of four labels (or `none` before one is known), an outcome one of
//! the names in [`ProxyOutcome`].

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::domain::RateCategory;

/// How a proxied call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyOutcome {
    /// Zoom answered (any status but 429).
    Answered,
    /// Zoom answered 429; the bucket is held.
    ZoomRateLimited,
    /// The broker refused: over budget or held.
    BrokerRateLimited,
    /// Zoom refused the token; it was replaced and the call sent again.
    TokenReplaced,
    /// Zoom could not be reached or did not answer in time.
    Unreachable,
    /// No token could be had (not connected, re-authorization, cutoff).
    NoToken,
    /// The path or query would have left `ZOOM_API_URL`.
    RefusedPath,
}

impl ProxyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::ZoomRateLimited => "zoom_rate_limited",
            Self::BrokerRateLimited => "broker_rate_limited",
            Self::TokenReplaced => "token_replaced",
            Self::Unreachable => "unreachable",
            Self::NoToken => "no_token",
            Self::RefusedPath => "refused_path",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    category: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

#[derive(Clone)]
pub struct ProxyMetrics {
    calls: Family<CallLabels, Counter>,
    upstream: Family<CategoryLabels, Histogram>,
}

fn label(category: Option<RateCategory>) -> &'static str {
    category.map_or("none", RateCategory::as_str)
}

impl ProxyMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let calls = Family::<CallLabels, Counter>::default();
        let upstream = Family::<CategoryLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "proxy_calls",
            "Zoom API calls through the proxy, by rate category and outcome",
            calls.clone(),
        );
        registry.register(
            "proxy_upstream_duration_seconds",
            "Time to Zoom's answer headers for proxied calls, by rate category",
            upstream.clone(),
        );
        Self { calls, upstream }
    }

    pub fn call(&self, category: Option<RateCategory>, outcome: ProxyOutcome) {
        self.calls
            .get_or_create(&CallLabels {
                category: label(category),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn upstream(&self, category: RateCategory, elapsed: Duration) {
        self.upstream
            .get_or_create(&CategoryLabels {
                category: category.as_str(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

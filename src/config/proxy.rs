//! The Zoom API proxy (issue 21): rate limits, bodies, retries.

use std::time::Duration;

use super::{parse_num, ConfigError};
use crate::ratelimit::RateLimits;

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `TOKENBROKER_ZOOM_RATE_LIMITS` and `TOKENBROKER_ZOOM_ORG_RATE_LIMITS`.
    pub rate_limits: RateLimits,
    /// `TOKENBROKER_PROXY_BUFFER_BYTES` (default 1 MiB): a request body up to
    /// this size (by `Content-Length`) is held whole, so the call can be
    /// sent again after a refused token or, for idempotent calls, a 429 or
    /// 5xx. A larger or unsized body is streamed and sent once.
    pub buffer_bytes: u64,
    /// `TOKENBROKER_PROXY_MAX_DEADLINE_MS` (default 60 s): the most
    /// `X-Tokenbroker-Deadline-Ms` may ask.
    pub max_deadline: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            rate_limits: RateLimits::default(),
            buffer_bytes: 1 << 20,
            max_deadline: Duration::from_secs(60),
        }
    }
}

impl ProxyConfig {
    pub(super) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let deployment = var("TOKENBROKER_ZOOM_RATE_LIMITS").unwrap_or_default();
        let orgs = var("TOKENBROKER_ZOOM_ORG_RATE_LIMITS").unwrap_or_default();
        let rate_limits = RateLimits::parse(&deployment, "")
            .map_err(|e| ConfigError::new("TOKENBROKER_ZOOM_RATE_LIMITS", e.0))?;
        let rate_limits = RateLimits::parse(&deployment, &orgs)
            .map_err(|e| ConfigError::new("TOKENBROKER_ZOOM_ORG_RATE_LIMITS", e.0))
            .map(|with_orgs| RateLimits {
                default: rate_limits.default,
                orgs: with_orgs.orgs,
            })?;
        Ok(Self {
            rate_limits,
            buffer_bytes: parse_num(
                "TOKENBROKER_PROXY_BUFFER_BYTES",
                var("TOKENBROKER_PROXY_BUFFER_BYTES"),
                1 << 20,
            )?,
            max_deadline: Duration::from_millis(parse_num(
                "TOKENBROKER_PROXY_MAX_DEADLINE_MS",
                var("TOKENBROKER_PROXY_MAX_DEADLINE_MS"),
                60_000,
            )?),
        })
    }
}

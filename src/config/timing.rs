//! How long the broker waits for Zoom and the database, and how long a
//! refresh lease lasts. The values depend on each other, so they are checked
//! together at start-up.

use std::time::Duration;

use super::{parse_num, ConfigError};

/// Slack on top of the answer wait and the store retries, for the lease.
const LEASE_MARGIN_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a refresh (or S2S) call that reached Zoom is awaited. Zoom
    /// rotates the refresh token as soon as it processes the call, so its
    /// answer is worth waiting for long after the caller has been answered.
    pub refresh_answer: Duration,
    /// How long, at least, storing a rotated pair is retried while the
    /// database is unavailable. The lease is sized to cover it.
    pub store_retry: Duration,
    /// Deadline of each database call, and the pool's acquire timeout.
    pub db_query: Duration,
    /// Test-only: moves this process's clock. Never set it in production.
    pub clock_offset_secs: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            refresh_answer: Duration::from_secs(60),
            store_retry: Duration::from_secs(30),
            db_query: Duration::from_millis(1_500),
            clock_offset_secs: 0,
        }
    }
}

impl Timing {
    /// The refresh lease: it outlives the longest answer wait plus the store
    /// retries, so a live holder never loses it with a rotated pair in hand.
    pub fn lease(&self) -> Duration {
        self.refresh_answer + self.store_retry + Duration::from_secs(LEASE_MARGIN_SECS)
    }

    pub(super) fn from_lookup(
        var: impl Fn(&str) -> Option<String>,
        upstream_timeout: Duration,
        refresh_ahead: Duration,
    ) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let answer_var = "TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS";
        let timing = Self {
            refresh_answer: Duration::from_secs(parse_num(
                answer_var,
                var(answer_var),
                defaults.refresh_answer.as_secs(),
            )?),
            store_retry: Duration::from_secs(parse_num(
                "TOKENBROKER_STORE_RETRY_SECS",
                var("TOKENBROKER_STORE_RETRY_SECS"),
                defaults.store_retry.as_secs(),
            )?),
            db_query: Duration::from_millis(
                parse_num(
                    "TOKENBROKER_DB_TIMEOUT_MS",
                    var("TOKENBROKER_DB_TIMEOUT_MS"),
                    defaults.db_query.as_millis() as u64,
                )?
                .max(1),
            ),
            clock_offset_secs: parse_offset(var("TOKENBROKER_CLOCK_OFFSET_SECS"))?,
        };
        if timing.refresh_answer < upstream_timeout {
            return Err(ConfigError::new(
                answer_var,
                format!(
                    "{} s is shorter than TOKENBROKER_UPSTREAM_TIMEOUT_SECS ({} s); a refresh \
                     that reached Zoom must be awaited at least as long as a caller waits",
                    timing.refresh_answer.as_secs(),
                    upstream_timeout.as_secs()
                ),
            ));
        }
        let lease = timing.lease().as_secs();
        if lease >= refresh_ahead.as_secs() {
            return Err(ConfigError::new(
                "TOKENBROKER_REFRESH_AHEAD_SECS",
                format!(
                    "{} s must exceed the refresh lease of {lease} s \
                     (TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS + TOKENBROKER_STORE_RETRY_SECS + \
                     {LEASE_MARGIN_SECS}), so callers keep a valid token while a refresh \
                     is pending",
                    refresh_ahead.as_secs()
                ),
            ));
        }
        Ok(timing)
    }
}

fn parse_offset(raw: Option<String>) -> Result<i64, ConfigError> {
    raw.map_or(Ok(0), |raw| {
        raw.parse::<i64>().map_err(|_| {
            ConfigError::new(
                "TOKENBROKER_CLOCK_OFFSET_SECS",
                format!("{raw:?} is invalid: expected a whole number of seconds"),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn timing(vars: &[(&str, &str)], ahead: u64) -> Result<Timing, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Timing::from_lookup(
            |k| map.get(k).cloned(),
            Duration::from_secs(10),
            Duration::from_secs(ahead),
        )
    }

    #[test]
    fn the_default_lease_covers_the_answer_wait_and_store_retries() {
        let t = timing(&[], 300).unwrap();
        assert_eq!(t, Timing::default());
        assert_eq!(t.lease(), Duration::from_secs(95));
    }

    #[test]
    fn a_lease_as_long_as_the_refresh_ahead_window_is_refused() {
        let err = timing(&[], 95).unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_REFRESH_AHEAD_SECS");
        assert!(err.problem.contains("95 s"), "{err}");
        assert!(timing(&[], 96).is_ok());
        let err = timing(&[("TOKENBROKER_STORE_RETRY_SECS", "400")], 300).unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_REFRESH_AHEAD_SECS");
    }

    #[test]
    fn the_answer_wait_is_never_shorter_than_the_caller_wait() {
        let err = timing(&[("TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS", "9")], 300).unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS");
        assert!(timing(&[("TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS", "10")], 300).is_ok());
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        for var in [
            "TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS",
            "TOKENBROKER_STORE_RETRY_SECS",
            "TOKENBROKER_DB_TIMEOUT_MS",
            "TOKENBROKER_CLOCK_OFFSET_SECS",
        ] {
            assert_eq!(timing(&[(var, "soon")], 300).unwrap_err().var, var);
        }
        let skewed = timing(&[("TOKENBROKER_CLOCK_OFFSET_SECS", "-20")], 300).unwrap();
        assert_eq!(skewed.clock_offset_secs, -20);
    }
}

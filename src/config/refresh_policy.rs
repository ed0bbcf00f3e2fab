//! Which connections the background refresher refreshes ahead of time, how
//! fast, and how use is recorded (issue 13: upstream cost follows use).

use std::time::Duration;

use super::{parse_num, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// A connection whose token was handed out within this window is
    /// refreshed ahead of time; any other waits for its next caller.
    pub used_within: Duration,
    /// A refresh token older than this is refreshed anyway, used or not, so
    /// that an idle grant never dies of old age at Zoom.
    pub keepalive_after: Duration,
    /// Background token-endpoint calls per second, across every replica.
    pub rate_per_sec: u32,
    /// How often the uses noted in memory are written to the database.
    pub usage_flush: Duration,
    /// The resolution of `last_used_at`: a connection's use is written at
    /// most once per this span, so writes follow time, not calls.
    pub usage_granularity: Duration,
}

/// Five minutes: a twelfth of the default hour of `used_within`, so the
/// sweep (which widens its window by one granularity) refreshes an idle
/// connection at most that much longer, while a connection in steady use
/// costs one write per five minutes instead of one per flush (every 5 s).
pub const DEFAULT_USAGE_GRANULARITY_SECS: u64 = 300;

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            used_within: Duration::from_secs(3_600),
            keepalive_after: Duration::from_secs(30 * 86_400),
            rate_per_sec: 20,
            usage_flush: Duration::from_millis(5_000),
            usage_granularity: Duration::from_secs(DEFAULT_USAGE_GRANULARITY_SECS),
        }
    }
}

impl RefreshPolicy {
    pub(super) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs = |name: &'static str, default: Duration| {
            parse_num(name, var(name), default.as_secs()).map(Duration::from_secs)
        };
        let rate_var = "TOKENBROKER_REFRESH_RATE_PER_SEC";
        let rate = parse_num(rate_var, var(rate_var), d.rate_per_sec.into())?;
        if rate == 0 || rate > 10_000 {
            return Err(ConfigError::new(
                rate_var,
                format!("{rate} is out of range: expected 1 to 10000 calls per second"),
            ));
        }
        let flush_var = "TOKENBROKER_USAGE_FLUSH_MS";
        let flush = parse_num(flush_var, var(flush_var), d.usage_flush.as_millis() as u64)?;
        let used_within = secs("TOKENBROKER_REFRESH_USED_WITHIN_SECS", d.used_within)?;
        let usage_granularity = granularity(&var, used_within)?;
        Ok(Self {
            used_within,
            keepalive_after: secs("TOKENBROKER_KEEPALIVE_AFTER_SECS", d.keepalive_after)?,
            rate_per_sec: rate as u32,
            usage_flush: Duration::from_millis(flush.max(10)),
            usage_granularity,
        })
    }
}

/// A granularity longer than `used_within` would blur "used within" beyond
/// recognition, so an explicit one is refused; the default keeps to a
/// twelfth of a shorter `used_within` (as 300 s is of the hour), so the
/// sweep's widening stays as small a share of the window.
fn granularity(
    var: &impl Fn(&str) -> Option<String>,
    used_within: Duration,
) -> Result<Duration, ConfigError> {
    let name = "TOKENBROKER_USAGE_GRANULARITY_SECS";
    let Some(raw) = var(name) else {
        let secs = DEFAULT_USAGE_GRANULARITY_SECS.min(used_within.as_secs() / 12);
        return Ok(Duration::from_secs(secs));
    };
    let secs = parse_num(name, Some(raw), DEFAULT_USAGE_GRANULARITY_SECS)?;
    if secs > used_within.as_secs() {
        return Err(ConfigError::new(
            name,
            format!(
                "{secs} is more than TOKENBROKER_REFRESH_USED_WITHIN_SECS ({}): expected 0 to that",
                used_within.as_secs()
            ),
        ));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn policy(vars: &[(&str, &str)]) -> Result<RefreshPolicy, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RefreshPolicy::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_an_hour_thirty_days_and_twenty_a_second() {
        let p = policy(&[]).unwrap();
        assert_eq!(p.used_within, Duration::from_secs(3_600));
        assert_eq!(p.keepalive_after, Duration::from_secs(2_592_000));
        assert_eq!(p.rate_per_sec, 20);
        assert_eq!(p.usage_flush, Duration::from_secs(5));
        assert_eq!(p.usage_granularity, Duration::from_secs(300));
    }

    #[test]
    fn the_granularity_is_read_fits_a_short_used_within_and_never_exceeds_it() {
        let p = policy(&[("TOKENBROKER_USAGE_GRANULARITY_SECS", "900")]).unwrap();
        assert_eq!(p.usage_granularity, Duration::from_secs(900));
        let p = policy(&[("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "60")]).unwrap();
        assert_eq!(p.usage_granularity, Duration::from_secs(5));
        let p = policy(&[("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "86400")]).unwrap();
        assert_eq!(p.usage_granularity, Duration::from_secs(300));
        let p = policy(&[("TOKENBROKER_USAGE_GRANULARITY_SECS", "0")]).unwrap();
        assert_eq!(p.usage_granularity, Duration::ZERO);
        let err = policy(&[
            ("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "60"),
            ("TOKENBROKER_USAGE_GRANULARITY_SECS", "61"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_USAGE_GRANULARITY_SECS");
        assert!(policy(&[("TOKENBROKER_USAGE_GRANULARITY_SECS", "5m")]).is_err());
    }

    #[test]
    fn each_variable_is_read_and_a_zero_rate_is_refused() {
        let p = policy(&[
            ("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "60"),
            ("TOKENBROKER_KEEPALIVE_AFTER_SECS", "7200"),
            ("TOKENBROKER_REFRESH_RATE_PER_SEC", "3"),
            ("TOKENBROKER_USAGE_FLUSH_MS", "250"),
        ])
        .unwrap();
        assert_eq!(p.used_within, Duration::from_secs(60));
        assert_eq!(p.keepalive_after, Duration::from_secs(7_200));
        assert_eq!(p.rate_per_sec, 3);
        assert_eq!(p.usage_flush, Duration::from_millis(250));
        let err = policy(&[("TOKENBROKER_REFRESH_RATE_PER_SEC", "0")]).unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_REFRESH_RATE_PER_SEC");
        let err = policy(&[("TOKENBROKER_KEEPALIVE_AFTER_SECS", "monthly")]).unwrap_err();
        assert_eq!(err.var, "TOKENBROKER_KEEPALIVE_AFTER_SECS");
    }
}

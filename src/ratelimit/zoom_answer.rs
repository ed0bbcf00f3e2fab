//! What Zoom's `429` says: which limit was hit and when to come back.
//!
//! Zoom's headers (Rate limits page, "Best practices for handling errors"):
//! `X-RateLimit-Category` (`Light`, `Medium`, `Heavy`, `Resource-intensive`),
//! `X-RateLimit-Type` (`QPS` or `Daily-limit`), `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining`, and `Retry-After`, which Zoom sends as seconds
//! or, for a daily limit, as the instant of the reset
//! (`2020-05-31T00:00:00Z`). Zoom does not always send them all, so every
//! one has a fallback: a per-second limit one second on, a daily limit at
//! the next 00:00 UTC (when Zoom resets them).

use reqwest::header::HeaderMap;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;

use crate::domain::RateCategory;

/// A limit Zoom reported as hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    /// The category Zoom named, if it named one.
    pub category: Option<RateCategory>,
    pub daily: bool,
    /// Unix ms at which calls may resume.
    pub until_ms: i64,
}

const DAY_MS: i64 = 86_400_000;

/// Reads a `429`'s headers; `now_ms` is unix ms.
pub fn limit_hit(headers: &HeaderMap, now_ms: i64) -> LimitHit {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let category = text("x-ratelimit-category").and_then(RateCategory::from_zoom_header);
    let daily = text("x-ratelimit-type").is_some_and(|t| t.to_ascii_lowercase().contains("daily"));
    let fallback = if daily {
        (now_ms / DAY_MS + 1) * DAY_MS
    } else {
        now_ms + 1000
    };
    let until_ms = text("retry-after")
        .and_then(|v| retry_after_ms(v, now_ms))
        .filter(|until| *until > now_ms)
        .unwrap_or(fallback);
    LimitHit {
        category,
        daily,
        until_ms,
    }
}

/// `Retry-After` as seconds, an RFC 3339 instant, or an HTTP date.
fn retry_after_ms(value: &str, now_ms: i64) -> Option<i64> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(now_ms.saturating_add((secs.min(7 * 86_400) as i64) * 1000));
    }
    let at = OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&value.replace("GMT", "+0000"), &Rfc2822))
        .ok()?;
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn zooms_documented_daily_example() {
        // The example in Zoom's documentation.
        let h = headers(&[
            ("x-ratelimit-category", "Heavy"),
            ("x-ratelimit-type", "Daily-limit"),
            ("x-ratelimit-limit", "30000"),
            ("x-ratelimit-remaining", "0"),
            ("retry-after", "2020-05-31T00:00:00Z"),
        ]);
        let now = 1_590_800_000_000; // 2020-05-30T00:53:20Z
        let hit = limit_hit(&h, now);
        assert_eq!(hit.category, Some(RateCategory::Heavy));
        assert!(hit.daily);
        assert_eq!(hit.until_ms, 1_590_883_200_000);
    }

    #[test]
    fn seconds_and_fallbacks() {
        let now = 1_000_000;
        let h = headers(&[
            ("retry-after", "3"),
            ("x-ratelimit-category", "Resource-intensive"),
        ]);
        let hit = limit_hit(&h, now);
        assert_eq!(
            (hit.until_ms, hit.category),
            (now + 3000, Some(RateCategory::ResourceIntensive))
        );
        assert_eq!(limit_hit(&HeaderMap::new(), now).until_ms, now + 1000);
        let daily = limit_hit(&headers(&[("x-ratelimit-type", "Daily-limit")]), now);
        assert_eq!(daily.until_ms, DAY_MS);
        let date = headers(&[("retry-after", "Sun, 31 May 2020 00:00:00 GMT")]);
        assert_eq!(
            limit_hit(&date, 1_590_800_000_000).until_ms,
            1_590_883_200_000
        );
    }
}

//! Zoom's rate limits by plan, and the deployment's and orgs' own figures.
//!
//! Figures: Zoom's "Rate limits" page (developers.zoom.us/docs/api/rate-limits/,
//! REST API table, read 2026-12): limits are per Zoom account, shared by
//! every app on it, by the endpoint's label and the account's plan.
//!
//! | plan | Light | Medium | Heavy | Resource-intensive |
//! | --- | --- | --- | --- | --- |
//! | free | 4/s, 6,000/day | 2/s, 2,000/day | 1/s, 1,000/day | 10/min, 30,000/day |
//! | pro | 30/s | 20/s | 10/s | 10/min |
//! | business (and Education, Enterprise, Partner) | 80/s | 60/s | 40/s | 20/min |
//!
//! Pro and Business share one daily limit between Heavy and
//! Resource-intensive: 30,000 and 60,000 a day.

use std::collections::HashMap;

use crate::domain::{InvalidValue, RateCategory};

/// So many calls per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: i64,
    pub window_ms: i64,
}

impl Rate {
    const fn per_second(count: i64) -> Self {
        Self {
            count,
            window_ms: 1000,
        }
    }
    const fn per_minute(count: i64) -> Self {
        Self {
            count,
            window_ms: 60_000,
        }
    }

    /// `30/s`, `10/min`, `500/h`.
    fn parse(text: &str) -> Result<Self, InvalidValue> {
        let bad = || InvalidValue(format!("{text:?} is not a rate such as 30/s or 10/min"));
        let (count, per) = text.split_once('/').ok_or_else(bad)?;
        let count: i64 = count.trim().parse().map_err(|_| bad())?;
        let window_ms = match per.trim() {
            "s" | "sec" | "second" => 1000,
            "min" | "minute" => 60_000,
            "h" | "hour" => 3_600_000,
            _ => return Err(bad()),
        };
        if count < 1 {
            return Err(bad());
        }
        Ok(Self { count, window_ms })
    }
}

/// A daily limit shared by one or more categories, reset at 00:00 UTC as Zoom's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPool {
    pub categories: Vec<RateCategory>,
    pub limit: i64,
}

impl DailyPool {
    /// The bucket name part: `heavy+resource_intensive`.
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.categories.iter().map(|c| c.as_str()).collect();
        names.join("+")
    }
}

/// The limits one Zoom account lives within. A category without a rate is
/// not limited by the broker (Zoom's own 429s still hold it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLimits {
    pub rates: HashMap<RateCategory, Rate>,
    pub daily: Vec<DailyPool>,
}

/// Zoom account plans with published figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Pro,
    Business,
}

impl Plan {
    fn parse(text: &str) -> Result<Self, InvalidValue> {
        match text.trim() {
            "free" | "basic" => Ok(Self::Free),
            "pro" => Ok(Self::Pro),
            "business" | "business_plus" | "enterprise" | "education" | "partner" => {
                Ok(Self::Business)
            }
            other => Err(InvalidValue(format!(
                "{other:?} is not a Zoom plan: free, pro or business"
            ))),
        }
    }

    pub fn limits(self) -> AccountLimits {
        use RateCategory::*;
        let (rates, daily) = match self {
            Self::Free => (
                [
                    Rate::per_second(4),
                    Rate::per_second(2),
                    Rate::per_second(1),
                    Rate::per_minute(10),
                ],
                vec![
                    pool(&[Light], 6_000),
                    pool(&[Medium], 2_000),
                    pool(&[Heavy], 1_000),
                    pool(&[ResourceIntensive], 30_000),
                ],
            ),
            Self::Pro => (
                [
                    Rate::per_second(30),
                    Rate::per_second(20),
                    Rate::per_second(10),
                    Rate::per_minute(10),
                ],
                vec![pool(&[Heavy, ResourceIntensive], 30_000)],
            ),
            Self::Business => (
                [
                    Rate::per_second(80),
                    Rate::per_second(60),
                    Rate::per_second(40),
                    Rate::per_minute(20),
                ],
                vec![pool(&[Heavy, ResourceIntensive], 60_000)],
            ),
        };
        AccountLimits {
            rates: RateCategory::ALL.iter().copied().zip(rates).collect(),
            daily,
        }
    }
}

fn pool(categories: &[RateCategory], limit: i64) -> DailyPool {
    DailyPool {
        categories: categories.to_vec(),
        limit,
    }
}

impl AccountLimits {
    /// Applies `plan=business,light=100/s,heavy=off,daily:heavy+resource_intensive=5000`
    /// on top of `self`: `plan` first replaces everything, then each item
    /// sets one figure; `off` removes it.
    pub fn with_overrides(mut self, text: &str) -> Result<Self, InvalidValue> {
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| InvalidValue(format!("{item:?} is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "plan" {
                self = Plan::parse(value)?.limits();
            } else if let Some(names) = key.strip_prefix("daily:") {
                let categories = names
                    .split('+')
                    .map(str::parse)
                    .collect::<Result<Vec<RateCategory>, _>>()?;
                self.daily.retain(|p| p.categories != categories);
                if value != "off" {
                    let limit = value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| InvalidValue(format!("{value:?} is not a daily count")))?;
                    self.daily.push(DailyPool { categories, limit });
                }
            } else {
                let category: RateCategory = key.parse()?;
                if value == "off" {
                    self.rates.remove(&category);
                } else {
                    self.rates.insert(category, Rate::parse(value)?);
                }
            }
        }
        Ok(self)
    }
}

/// The deployment's limits and each org's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub default: AccountLimits,
    pub orgs: HashMap<String, AccountLimits>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            default: Plan::Pro.limits(),
            orgs: HashMap::new(),
        }
    }
}

impl RateLimits {
    /// `deployment`: `TOKENBROKER_ZOOM_RATE_LIMITS` (starting from Pro);
    /// `orgs`: `TOKENBROKER_ZOOM_ORG_RATE_LIMITS`, `slug:items;slug:items`,
    /// each starting from the deployment's figures.
    pub fn parse(deployment: &str, orgs: &str) -> Result<Self, InvalidValue> {
        let default = Plan::Pro.limits().with_overrides(deployment)?;
        let mut per_org = HashMap::new();
        for entry in orgs.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let (slug, items) = entry
                .split_once(':')
                .ok_or_else(|| InvalidValue(format!("{entry:?} is not slug:key=value,…")))?;
            per_org.insert(
                slug.trim().to_string(),
                default.clone().with_overrides(items)?,
            );
        }
        Ok(Self {
            default,
            orgs: per_org,
        })
    }

    pub fn for_org(&self, slug: &str) -> &AccountLimits {
        self.orgs.get(slug).unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_carry_zooms_published_figures() {
        let pro = Plan::Pro.limits();
        assert_eq!(pro.rates[&RateCategory::Light], Rate::per_second(30));
        assert_eq!(
            pro.rates[&RateCategory::ResourceIntensive],
            Rate::per_minute(10)
        );
        assert_eq!(
            pro.daily,
            vec![pool(
                &[RateCategory::Heavy, RateCategory::ResourceIntensive],
                30_000
            )]
        );
        let free = Plan::Free.limits();
        assert_eq!(free.daily.len(), 4);
    }

    #[test]
    fn overrides_and_orgs() {
        let limits = RateLimits::parse(
            "plan=business,light=100/s,heavy=off",
            "tiny:plan=free,medium=1/s; big:daily:heavy+resource_intensive=off",
        )
        .unwrap();
        assert_eq!(
            limits.default.rates[&RateCategory::Light],
            Rate::per_second(100)
        );
        assert!(!limits.default.rates.contains_key(&RateCategory::Heavy));
        assert_eq!(
            limits.for_org("tiny").rates[&RateCategory::Medium],
            Rate::per_second(1)
        );
        assert_eq!(
            limits.for_org("tiny").rates[&RateCategory::Light],
            Rate::per_second(4)
        );
        assert!(limits.for_org("big").daily.is_empty());
        assert_eq!(limits.for_org("other"), &limits.default);
    }

    #[test]
    fn bad_figures_are_refused() {
        for bad in [
            "light",
            "light=0/s",
            "light=3/day",
            "plan=gold",
            "weird=1/s",
            "daily:light=x",
        ] {
            assert!(RateLimits::parse(bad, "").is_err(), "{bad}");
        }
        assert!(RateLimits::parse("", "noslug").is_err());
    }
}

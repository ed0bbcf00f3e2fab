//! Events to the CRM (issue 12): where they go, how they are signed, how
//! their delivery is retried.

use std::time::Duration;

use url::Url;

use super::{parse_num, parse_url, ConfigError};
use crate::events::sign::WebhookSecret;

#[derive(Clone)]
pub struct EventsConfig {
    /// `TOKENBROKER_EVENTS_URL`: where events are POSTed. Unset: events are
    /// still recorded (and can be polled), but nothing is sent.
    pub url: Option<Url>,
    /// `TOKENBROKER_EVENTS_SECRET`: `whsec_` + base64.
    pub secret: Option<WebhookSecret>,
    /// The first retry's delay; each further one doubles, with jitter.
    pub retry_base: Duration,
    /// No single delay is longer than this.
    pub retry_cap: Duration,
    /// An event still undelivered this long after it was written is failed.
    pub give_up_after: Duration,
    /// One POST's time limit.
    pub timeout: Duration,
    /// How often the worker looks for due events.
    pub poll: Duration,
}

impl std::fmt::Debug for EventsConfig {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsConfig")
            .field("url", &self.url.as_ref().map(Url::as_str))
            .field("retry_base", &self.retry_base)
            .field("give_up_after", &self.give_up_after)
            .finish_non_exhaustive()
    }
}

impl EventsConfig {
    pub(super) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let url = var("TOKENBROKER_EVENTS_URL")
            .map(|u| parse_url("TOKENBROKER_EVENTS_URL", &u))
            .transpose()?;
        let secret = var("TOKENBROKER_EVENTS_SECRET")
            .map(|s| {
                WebhookSecret::parse(&s)
                    .map_err(|e| ConfigError::new("TOKENBROKER_EVENTS_SECRET", e))
            })
            .transpose()?;
        if url.is_some() && secret.is_none() {
            return Err(ConfigError::new(
                "TOKENBROKER_EVENTS_SECRET",
                "TOKENBROKER_EVENTS_URL is set: events must be signed, set the secret too",
            ));
        }
        let ms = |name: &'static str, default: u64| {
            parse_num(name, var(name), default).map(Duration::from_millis)
        };
        Ok(Self {
            url,
            secret,
            retry_base: ms("TOKENBROKER_EVENTS_RETRY_BASE_MS", 5_000)?
                .max(Duration::from_millis(10)),
            retry_cap: ms("TOKENBROKER_EVENTS_RETRY_CAP_MS", 3_600_000)?
                .max(Duration::from_millis(10)),
            give_up_after: Duration::from_secs(parse_num(
                "TOKENBROKER_EVENTS_GIVE_UP_SECS",
                var("TOKENBROKER_EVENTS_GIVE_UP_SECS"),
                86_400,
            )?),
            timeout: ms("TOKENBROKER_EVENTS_TIMEOUT_MS", 10_000)?.max(Duration::from_millis(100)),
            poll: ms("TOKENBROKER_EVENTS_POLL_MS", 1_000)?.max(Duration::from_millis(10)),
        })
    }
}

//! Cache invalidation across replicas.
//!
//! Every change that affects what the token API may hand out (disconnect,
//! deauthorization, needs_reauth, credential or app changes, key revocation)
//! calls `App::invalidate`. That drops this process's cached entries at once
//! and, on PostgreSQL, sends `NOTIFY tokenbroker_invalidate` so every
//! replica's listener drops them too (within milliseconds).
//!
//! While the listener is connected (or on SQLite, one process), cached tokens
//! are held until their refresh window and keys for 60 s. While it is not
//! (starting, database restart, network), nothing may have been heard, so
//! the caches are flushed on every disconnect and again on every reconnect
//! (notifications sent meanwhile are lost), and entries cached meanwhile
//! live only `TOKENBROKER_TOKEN_CACHE_MS` (tokens) and 1 s (keys).
//!
//! This file holds what changed and whether changes are heard; the listener
//! that hears them, which needs the whole app, is `service::invalidation`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The PostgreSQL channel every replica listens on.
pub const CHANNEL: &str = "tokenbroker_invalidate";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// Anything about an org's connections, credentials or apps.
    OrgTokens(String),
    /// An API key was revoked (or otherwise changed).
    ApiKey(String),
    /// Zoom answered 429 for a rate bucket: hold it until `until_ms`.
    RateHold { bucket: String, until_ms: i64 },
    /// Everything (a notification may have been missed).
    All,
}

impl Invalidation {
    pub fn encode(&self) -> String {
        match self {
            Self::OrgTokens(org) => format!("tokens:{org}"),
            Self::ApiKey(id) => format!("key:{id}"),
            Self::RateHold { bucket, until_ms } => format!("hold:{until_ms}:{bucket}"),
            Self::All => "all".into(),
        }
    }

    /// An unknown payload (a newer replica's) is taken as `All`: safe.
    pub fn decode(payload: &str) -> Self {
        match payload.split_once(':') {
            Some(("tokens", org)) => Self::OrgTokens(org.into()),
            Some(("key", id)) => Self::ApiKey(id.into()),
            Some(("hold", rest)) => match rest.split_once(':') {
                Some((until, bucket)) if until.parse::<i64>().is_ok() => Self::RateHold {
                    bucket: bucket.into(),
                    until_ms: until.parse().unwrap_or_default(),
                },
                _ => Self::All,
            },
            _ => Self::All,
        }
    }
}

/// Whether other replicas' changes reach this process, and a generation
/// that moves on every invalidation (a load that started before one must
/// not be cached after it).
pub struct Invalidator {
    /// Cross-replica invalidation is in force: on SQLite (one process)
    /// always, on PostgreSQL while the listener is connected.
    live: AtomicBool,
    generation: AtomicU64,
    /// Times the listener (re)connected, since start.
    pub connects: AtomicU64,
}

impl Invalidator {
    pub fn new(live: bool) -> Self {
        Self {
            live: AtomicBool::new(live),
            generation: AtomicU64::new(0),
            connects: AtomicU64::new(0),
        }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub(crate) fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_unknown_ones_flush_everything() {
        for i in [
            Invalidation::OrgTokens("o1".into()),
            Invalidation::ApiKey("k1".into()),
            Invalidation::All,
        ] {
            assert_eq!(Invalidation::decode(&i.encode()), i);
        }
        assert_eq!(Invalidation::decode("future:x"), Invalidation::All);
    }
}

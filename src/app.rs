//! The application state every handler shares.

use std::ops::Deref;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;
use time::OffsetDateTime;

use crate::cache::{TokenKey, TtlCache};
use crate::config::Config;
use crate::crypto::Keyring;
use crate::domain::{Actor, AuditAction, AuditOutcome};
use crate::invalidation::{Invalidation, Invalidator};
use crate::ratelimit::Budgets;
use crate::shared_load::SharedLoad;
use crate::store::SharedStoreError;
use crate::store::{CachedApiKey, DynStore, NewAuditEvent, Org, Store};
use crate::telemetry::Metrics;
use crate::tokens::Refresher;
use crate::tokens::{ResolvedToken, TokenError};
use crate::zoom::proxy::ProxyClient;
use crate::zoom::ZoomClient;
use std::time::Duration;

/// Everything a request may need, built once at start-up.
pub struct App {
    pub config: Config,
    /// The database, behind the storage trait (SQLite or PostgreSQL).
    pub store: DynStore,
    /// Seals and opens every secret at rest.
    pub keyring: Keyring,
    /// Encrypt the browser-binding and admin cookies: the first writes, all read.
    pub cookie_keys: Vec<Key>,
    pub zoom: ZoomClient,
    pub metrics: Metrics,
    pub clock: Clock,
    /// Per-connection single-flight and backoff for token refreshes.
    pub refresher: Refresher,
    /// Names this process as a refresh lease owner.
    pub instance_id: String,
    /// Hot-path caches; see `App::invalidate` for invalidation.
    pub caches: Caches,
    /// Cross-replica invalidation state (`crate::invalidation`).
    pub invalidator: Invalidator,
    /// Sends proxied calls to Zoom's API.
    pub proxy: ProxyClient,
    /// Each Zoom account's rate budget, shared by the replicas on PostgreSQL.
    pub budgets: Budgets,
}

/// In-memory caches that keep the token API off the database when nothing changed.
pub struct Caches {
    /// API key rows by key id; a revocation invalidates its entry everywhere.
    pub api_keys: TtlCache<String, Arc<CachedApiKey>>,
    /// API keys' uses, written to `api_keys.last_used_at` in batches.
    pub api_key_usage: crate::tokens::UsageLog,
    /// Orgs by slug. Orgs are never renamed or deleted.
    pub orgs: TtlCache<String, Arc<Org>>,
    /// Resolved tokens by (org id, email), never for a token inside any
    /// refresh window; for at most `token_ttl` while cross-replica
    /// invalidation is not live.
    pub tokens: TtlCache<TokenKey, Arc<ResolvedToken>>,
    /// Resolutions under way, so callers missing `tokens` together share one.
    pub resolving: SharedLoad<Result<Arc<ResolvedToken>, TokenError>>,
    /// Reads of uncached API keys and orgs under way, shared likewise.
    pub key_loads: SharedLoad<Result<Option<Arc<CachedApiKey>>, SharedStoreError>>,
    pub org_loads: SharedLoad<Result<Option<Arc<Org>>, SharedStoreError>>,
    pub token_ttl: Duration,
}

pub const LOOKUP_CACHE_TTL: Duration = Duration::from_secs(60);

/// Axum state: a cheap clone of the shared `App`.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Metrics {
        state.metrics.clone()
    }
}

impl App {
    pub fn new(config: Config, keyring: Keyring, store: DynStore) -> Self {
        let metrics = Metrics::default();
        let zoom = ZoomClient::new(
            &config.zoom_oauth_url,
            &config.zoom_api_url,
            config.upstream_timeout,
            metrics.clone(),
        );
        let cookie_keys = keyring
            .cookie_key_materials()
            .iter()
            .map(|material| Key::from(material))
            .collect();
        let config_token_ttl = config.token_cache_ttl;
        let proxy = ProxyClient::new(&config.zoom_api_url, config.upstream_timeout);
        // SQLite is one process: its budgets are counted in memory.
        let budgets = Budgets::new((store.backend() == "postgres").then(|| store.clone()));
        let clock = Clock::with_offset(config.timing.clock_offset_secs);
        // SQLite: one process, so in-process invalidation is all there is.
        // PostgreSQL: live once the listener has connected.
        let invalidator = Invalidator::new(store.backend() != "postgres" && config.invalidation);
        metrics.listener_up(invalidator.is_live());
        Self {
            config,
            store,
            keyring,
            cookie_keys,
            zoom,
            metrics,
            clock,
            refresher: Refresher::default(),
            invalidator,
            instance_id: uuid::Uuid::new_v4().to_string(),
            proxy,
            budgets,
            caches: Caches {
                api_keys: TtlCache::new(10_000),
                api_key_usage: Default::default(),
                orgs: TtlCache::new(10_000),
                tokens: TtlCache::new(100_000),
                resolving: SharedLoad::default(),
                key_loads: SharedLoad::default(),
                org_loads: SharedLoad::default(),
                token_ttl: config_token_ttl,
            },
        }
    }

    pub fn into_state(self) -> AppState {
        AppState(Arc::new(self))
    }

    /// Drops every replica's cached tokens of an org after anything changed
    /// its connections, credentials or apps (`invalidate`'s old name).
    pub fn forget_tokens(&self, org_id: &str) {
        self.invalidate(Invalidation::OrgTokens(org_id.to_string()));
    }

    /// Drops the entries `what` names from this process's caches now, and on
    /// PostgreSQL from every replica's, through `NOTIFY` (sent in the
    /// background: the caller's write is already committed).
    pub fn invalidate(&self, what: Invalidation) {
        self.apply_invalidation(&what);
        if self.store.backend() == "postgres" {
            let store = self.store.clone();
            let payload = what.encode();
            tokio::spawn(async move {
                if let Err(err) = store.notify_invalidation(&payload).await {
                    tracing::warn!(%err, %payload, "could not notify the other replicas");
                }
            });
        }
    }

    /// Drops the entries `what` names from this process's caches only.
    pub fn apply_invalidation(&self, what: &Invalidation) {
        if let Invalidation::RateHold { bucket, until_ms } = what {
            // Not a cache entry: nothing cached is stale because of it.
            self.budgets.hold_here(bucket, *until_ms);
            return;
        }
        self.invalidator.bump();
        match what {
            Invalidation::OrgTokens(org_id) => {
                self.caches.tokens.remove_where(|k| k.org_id == *org_id)
            }
            Invalidation::ApiKey(id) => self.caches.api_keys.remove_where(|k| k == id),
            Invalidation::RateHold { .. } => {}
            Invalidation::All => {
                self.caches.tokens.remove_where(|_| true);
                self.caches.api_keys.remove_where(|_| true);
            }
        }
    }

    /// Records a security event. A failed write is logged, never fatal:
    /// the action itself already happened.
    pub async fn audit(
        &self,
        org_id: Option<&str>,
        actor: &Actor,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: impl Into<String>,
    ) {
        record_audit(
            self.store.as_ref(),
            NewAuditEvent {
                org_id: org_id.map(str::to_string),
                actor: actor.to_string(),
                action,
                outcome,
                detail: detail.into(),
                created_at: self.clock.now(),
            },
        )
        .await;
    }
}

/// Writes an audit entry through any store; for commands that run without an `App`.
pub async fn record_audit(store: &dyn Store, mut event: NewAuditEvent) {
    event.detail = one_line(&event.detail);
    tracing::info!(target: "audit", org_id = ?event.org_id, actor = %event.actor,
        action = %event.action, outcome = %event.outcome, detail = %event.detail, "audit");
    if let Err(err) = store.append_audit(&event).await {
        tracing::error!(%err, action = %event.action, "could not write audit event");
    }
}

/// An audit detail often quotes others (Zoom's error text, a role name):
/// control characters are escaped, as `\0` and `\n`, so PostgreSQL can
/// store it and no line break forges a line of the log; and it is capped.
fn one_line(detail: &str) -> String {
    const MAX_CHARS: usize = 1000;
    if detail.len() <= MAX_CHARS && !detail.chars().any(char::is_control) {
        return detail.to_string();
    }
    let mut out = String::with_capacity(detail.len().min(MAX_CHARS + 8));
    for (i, c) in detail.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Wall-clock time with an offset that tests can move forward.
#[derive(Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// A clock `secs` away from the wall clock (`TOKENBROKER_CLOCK_OFFSET_SECS`,
    /// which only tests set, to play a replica whose clock is wrong).
    pub fn with_offset(secs: i64) -> Self {
        Self {
            offset_secs: AtomicI64::new(secs),
        }
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        // Not `OffsetDateTime::now_utc()`: that works out a calendar date
        // only to throw it away, several times per token call.
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        since_epoch + self.offset_secs.load(Ordering::Relaxed)
    }

    pub fn now_datetime(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn audit_details_are_one_line_and_capped() {
        assert_eq!(one_line("Zoom: plain"), "Zoom: plain");
        assert_eq!(one_line("a\0b\nc\u{1b}"), "a\\0b\\nc\\u{1b}");
        let long = one_line(&"é".repeat(1500));
        assert_eq!(long.chars().count(), 1001);
        assert!(long.ends_with("é…"));
    }
}

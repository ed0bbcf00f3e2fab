//! The token API's use case: a fresh token for a user, from memory when safe.

use std::sync::Arc;
use std::time::Duration;

use crate::app::AppState;
use crate::cache::{TokenKey, TokenKeyRef};
use crate::domain::Email;
use crate::store::Org;
use crate::tokens::{resolve_for, ResolvedToken, TokenError};

use super::{ServiceError, ServiceResult};

/// The most `min_valid_secs` may ask: the lifetime of a Zoom access token.
pub const MAX_MIN_VALID_SECS: u64 = 3600;

/// Parses `min_valid_secs` at the edge: absent is 0; anything but an
/// integer from 0 to 3600 is `invalid_min_valid_secs`.
pub fn parse_min_valid_secs(raw: Option<&str>) -> ServiceResult<u64> {
    let Some(raw) = raw else { return Ok(0) };
    match raw.parse::<u64>() {
        Ok(n) if n <= MAX_MIN_VALID_SECS => Ok(n),
        _ => Err(ServiceError::invalid(
            "invalid_min_valid_secs",
            format!("min_valid_secs is an integer from 0 to {MAX_MIN_VALID_SECS} (the lifetime of a Zoom access token)"),
        )),
    }
}

pub async fn token_for(
    app: &AppState,
    org: &Org,
    email: &Email,
) -> ServiceResult<Arc<ResolvedToken>> {
    token_for_at_least(app, org, email, 0).await
}

/// A token valid at least `min_valid` more seconds: a cached one if it is,
/// else one resolved (and refreshed first if it would expire sooner).
pub async fn token_for_at_least(
    app: &AppState,
    org: &Org,
    email: &Email,
    min_valid: u64,
) -> ServiceResult<Arc<ResolvedToken>> {
    token_as(app, org, Some(email), min_valid).await
}

/// As `token_for_at_least`; without an email, the org's own account-level
/// token (cached under an empty email, which no user has). Cached tokens
/// are shared, not copied: a hit costs a reference count.
pub async fn token_as(
    app: &AppState,
    org: &Org,
    email: Option<&Email>,
    min_valid: u64,
) -> ServiceResult<Arc<ResolvedToken>> {
    let key = TokenKeyRef {
        org_id: &org.id,
        email: email.map_or("", Email::as_str),
    };
    if let Some(hit) = app.caches.tokens.get(&key) {
        if safe_secs(app, &hit) > 0 && lasts(app, &hit, min_valid) {
            app.metrics.token_cache(true);
            note_use(app, &hit);
            return Ok(hit);
        }
    }
    app.metrics.token_cache(false);
    let resolved = resolve_shared(app, org, email, key.to_owned(), min_valid).await?;
    if !lasts(app, &resolved, min_valid) {
        let left = resolved.expires_unix - app.clock.now();
        if !resolved.cacheable {
            // Degraded (Zoom down, a stored token still valid): not the caller's fault.
            return Err(ServiceError::Unavailable {
                detail: format!(
                    "no token valid {min_valid} s could be had; {}",
                    resolved.warnings.join("; ")
                ),
                retry_after_secs: 2,
            });
        }
        return Err(ServiceError::invalid(
            "invalid_min_valid_secs",
            format!("min_valid_secs={min_valid} is more than this source grants: its fresh token is valid {left} s"),
        ));
    }
    Ok(resolved)
}

/// Callers that miss the cache together for one token share one resolution:
/// one database read, and at most one refresh behind it, however many ask.
/// A flight is joined only within one invalidation generation, so a caller
/// arriving after an invalidation never receives the answer it invalidated;
/// and a load that heard an invalidation while running is not cached over it.
async fn resolve_shared(
    app: &AppState,
    org: &Org,
    email: Option<&Email>,
    key: TokenKey,
    min_valid: u64,
) -> Result<Arc<ResolvedToken>, TokenError> {
    let generation = app.invalidator.generation();
    let flight = format!("{}\0{}\0{min_valid}\0{generation}", key.org_id, key.email);
    let (owned, org, email) = (app.clone(), org.clone(), email.cloned());
    app.caches
        .resolving
        .run(&flight, move || async move {
            let app = owned;
            app.metrics.token_resolved();
            // Boxed: the resolution's state is large, and the shared load
            // (and every cache hit's future, whose size includes this one)
            // would otherwise copy all of it on each move.
            let resolving = Box::pin(resolve_for(&app, &org, email.as_ref(), min_valid));
            let resolved = Arc::new(resolving.await?);
            note_use(&app, &resolved);
            if lasts(&app, &resolved, min_valid) && app.invalidator.generation() == generation {
                let ttl = cacheable_for(&app, &resolved);
                app.caches.tokens.insert(key, resolved.clone(), ttl);
            }
            Ok(resolved)
        })
        .await
}

fn lasts(app: &AppState, token: &ResolvedToken, min_valid: u64) -> bool {
    token.expires_unix - app.clock.now() >= min_valid as i64
}

/// Every token handed out, from memory or not, marks its connection as in
/// use; the background refresher keeps only such connections fresh. A use
/// the stored `last_used_at` already stands for (within the granularity) is
/// not noted, so a busy connection costs no write until its record ages.
fn note_use(app: &AppState, token: &ResolvedToken) {
    if let Some(id) = &token.connection_id {
        let now = app.clock.now();
        let granularity = app.config.refresh_policy.usage_granularity.as_secs() as i64;
        if crate::tokens::needs_recording(token.recorded_use, now, granularity) {
            app.refresher.usage.note(id, now);
        }
    }
}

/// A token is never cached once it is inside any refresh window (the
/// request path's or the background refresher's), so a cached answer is
/// never one a refresh may have replaced. Until then it is held as long as
/// cross-replica invalidation is live, else `TOKENBROKER_TOKEN_CACHE_MS`.
fn cacheable_for(app: &AppState, token: &ResolvedToken) -> Duration {
    let safe = safe_secs(app, token);
    if safe <= 0 || !token.cacheable {
        return Duration::ZERO;
    }
    let safe = Duration::from_secs(safe as u64);
    // A zero TTL turns the cache off altogether.
    if app.invalidator.is_live() && !app.caches.token_ttl.is_zero() {
        safe
    } else {
        app.caches.token_ttl.min(safe)
    }
}

/// Seconds until the token enters a refresh window, by the app's clock.
fn safe_secs(app: &AppState, token: &ResolvedToken) -> i64 {
    let windows = app.config.refresh_ahead.as_secs() + app.config.refresh_sweep.as_secs() * 2 + 5;
    token.expires_unix - app.clock.now() - windows as i64
}

//! The token API's use case: a fresh token for a user, from memory when safe.

use std::time::Duration;

use crate::app::AppState;
use crate::domain::Email;
use crate::store::Org;
use crate::tokens::{resolve, ResolvedToken};

use super::ServiceResult;

pub async fn token_for(app: &AppState, org: &Org, email: &Email) -> ServiceResult<ResolvedToken> {
    let key = (org.id.clone(), email.to_string());
    if let Some(hit) = app.caches.tokens.get(&key) {
        if safe_secs(app, &hit) > 0 {
            note_use(app, &hit);
            return Ok(hit);
        }
    }
    let resolved = resolve(app, org, email).await?;
    note_use(app, &resolved);
    app.caches
        .tokens
        .insert(key, resolved.clone(), cacheable_for(app, &resolved));
    Ok(resolved)
}

/// Every token handed out, from memory or not, marks its connection as in
/// use; the background refresher keeps only such connections fresh.
fn note_use(app: &AppState, token: &ResolvedToken) {
    if let Some(id) = &token.connection_id {
        app.refresher.usage.note(id, app.clock.now());
    }
}

/// A token is cached briefly, and never once it is inside any refresh window
/// (the request path's or the background refresher's), so a cached answer is
/// never one a refresh may have replaced.
fn cacheable_for(app: &AppState, token: &ResolvedToken) -> Duration {
    let safe = safe_secs(app, token);
    if safe <= 0 || !token.cacheable {
        return Duration::ZERO;
    }
    app.caches.token_ttl.min(Duration::from_secs(safe as u64))
}

/// Seconds until the token enters a refresh window, by the app's clock.
fn safe_secs(app: &AppState, token: &ResolvedToken) -> i64 {
    let windows = app.config.refresh_ahead.as_secs() + app.config.refresh_sweep.as_secs() * 2 + 5;
    token.expires_unix - app.clock.now() - windows as i64
}

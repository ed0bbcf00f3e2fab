use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;

use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::tokens::{resolve, ResolvedToken};

use super::Caller;

/// `GET /api/v1/orgs/{org}/users/{email}/token`
pub async fn get_token(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, email)): Path<(String, String)>,
) -> ApiResult<Json<ResolvedToken>> {
    let org = caller.org(&app, &org).await?;
    let email =
        Email::parse(&email).map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    let key = (org.id.clone(), email.to_string());
    if let Some(hit) = app.caches.tokens.get(&key) {
        if safe_secs(&app, &hit) > 0 {
            return Ok(Json(hit));
        }
    }
    let resolved = resolve(&app, &org, &email).await?;
    app.caches
        .tokens
        .insert(key, resolved.clone(), cacheable_for(&app, &resolved));
    Ok(Json(resolved))
}

/// A token is cached briefly, and never once it is inside any refresh window
/// (the request path's or the background refresher's), so a cached answer is
/// never one a refresh may have replaced.
fn cacheable_for(app: &AppState, token: &ResolvedToken) -> Duration {
    let safe = safe_secs(app, token);
    if safe <= 0 || !token.warnings.iter().all(|w| w.contains("legacy JWT")) {
        return Duration::ZERO;
    }
    app.caches.token_ttl.min(Duration::from_secs(safe as u64))
}

/// Seconds until the token enters a refresh window, by the app's clock.
fn safe_secs(app: &AppState, token: &ResolvedToken) -> i64 {
    let windows = app.config.refresh_ahead.as_secs() + app.config.refresh_sweep.as_secs() * 2 + 5;
    token.expires_unix - app.clock.now() - windows as i64
}

//! An org's connections: read, disconnect, and Zoom's deauthorization.

use crate::app::AppState;
use crate::crypto::{sha256_hex, Aad, SealedColumn};
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome};
use crate::store::{AccountReach, Connection, Deauthorize, Org};

use super::{ServiceError, ServiceResult};

pub async fn get(app: &AppState, org: &Org, id: &str) -> ServiceResult<Connection> {
    // No id we issue holds NUL, and PostgreSQL could not even compare one.
    if id.contains('\0') {
        return Err(ServiceError::NotFound(format!(
            "connection {id:?} not found"
        )));
    }
    app.store
        .connection(&org.id, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("connection {id:?} not found")))
}

/// Revokes at Zoom, then deletes locally, even when Zoom's revoke fails: the
/// customer asked for the tokens to be gone. Returns a warning when Zoom's
/// revoke failed.
pub async fn disconnect(
    app: &AppState,
    org: &Org,
    id: &str,
    actor: &Actor,
) -> ServiceResult<Option<String>> {
    let conn = get(app, org, id).await?;
    let revoke_result = match revoke_token(app, &conn) {
        Ok(Some(token)) => {
            match crate::tokens::apps::for_grant(app, conn.oauth_app_id.as_deref(), conn.app_type)
                .await
            {
                Ok(zoom_app) => app
                    .zoom
                    .revoke(&zoom_app.auth(), &token)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            }
        }
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    app.store.delete_connection(&conn.org_id, &conn.id).await?;
    app.forget_tokens(&conn.org_id);
    let warning = revoke_result
        .err()
        .map(|e| format!("deleted locally, but revoking at Zoom failed: {e}"));
    match &warning {
        Some(w) => tracing::warn!(connection_id = %conn.id, warning = %w, "disconnect"),
        None => tracing::info!(connection_id = %conn.id, "disconnected and revoked at Zoom"),
    }
    let outcome = if warning.is_some() {
        AuditOutcome::Partial
    } else {
        AuditOutcome::Success
    };
    let detail = format!(
        "connection {} ({}){}",
        conn.id,
        conn.email,
        warning
            .as_deref()
            .map(|w| format!(": {w}"))
            .unwrap_or_default()
    );
    app.audit(
        Some(&conn.org_id),
        actor,
        AuditAction::ConnectionDisconnected,
        outcome,
        detail,
    )
    .await;
    Ok(warning)
}

/// Zoom revokes the whole grant given either token; prefer the refresh token,
/// which outlives the access token.
fn revoke_token(app: &AppState, conn: &Connection) -> Result<Option<String>, String> {
    let (column, sealed) = match (&conn.refresh_token, &conn.access_token) {
        (Some(rt), _) => (SealedColumn::CONNECTION_REFRESH_TOKEN, rt),
        (None, Some(at)) => (SealedColumn::CONNECTION_ACCESS_TOKEN, at),
        (None, None) => return Ok(None),
    };
    app.keyring
        .open_string(Aad::new(column, &conn.id), sealed)
        .map(Some)
        .map_err(|e| format!("stored token could not be opened: {e}"))
}

/// Zoom's `app_deauthorized` event, after its signature was checked.
pub struct Deauthorization {
    /// Names the event for deduplication: Zoom's payload `signature`, which a
    /// replay or a retry repeats.
    pub event_id: String,
    pub client_id: String,
    pub user_id: String,
    pub account_id: String,
    pub deauthorization_time: Option<String>,
}

/// What a deauthorization changed.
#[derive(Debug, PartialEq, Eq)]
pub enum Deauthorized {
    /// The event was for another Zoom app; nothing changed.
    OtherApp,
    /// This event was already handled (a replay or a retry); nothing changed.
    AlreadyHandled,
    /// These many connections were revoked and their tokens erased.
    Revoked(usize),
}

/// Marks the connections of the removed app `revoked` and erases their
/// tokens. A replayed event, or one older than a connection's latest
/// authorization, changes nothing.
pub async fn deauthorize(app: &AppState, d: Deauthorization) -> ServiceResult<Deauthorized> {
    let config = &app.config;
    let user_app = config.zoom_client_id.as_deref() == Some(d.client_id.as_str());
    let account_app = config.zoom_account_client_id.as_deref() == Some(d.client_id.as_str());
    if !user_app && !account_app {
        return Ok(Deauthorized::OtherApp);
    }
    // An admin-managed app removed from an account ends that account's
    // connections everywhere. One app serving both kinds cannot say which kind
    // was removed, so there only the installer's account connection goes.
    let account_connections = if account_app {
        AccountReach::WholeAccount
    } else if config.single_zoom_app() {
        AccountReach::Installer
    } else {
        AccountReach::None
    };
    let reach = Reach {
        user_connections: user_app,
        account_connections,
        oauth_app_id: None,
    };
    deauthorize_reach(app, d, reach).await
}

/// Which connections of one Zoom app a deauthorization may reach.
pub struct Reach {
    pub user_connections: bool,
    pub account_connections: AccountReach,
    /// The org's own app; `None`: the deployment's app.
    pub oauth_app_id: Option<String>,
}

/// Marks the reached connections `revoked` and erases their tokens, once per event.
pub async fn deauthorize_reach(
    app: &AppState,
    d: Deauthorization,
    reach: Reach,
) -> ServiceResult<Deauthorized> {
    if d.user_id.is_empty() && d.account_id.is_empty() {
        return Err(ServiceError::invalid(
            "invalid_body",
            "payload names neither user_id nor account_id",
        ));
    }
    let now = app.clock.now();
    let deauthorized_at = match d.deauthorization_time.as_deref() {
        Some(raw) => parse_instant(raw).ok_or_else(|| {
            ServiceError::invalid(
                "invalid_body",
                "deauthorization_time is not an RFC 3339 instant",
            )
        })?,
        None => now,
    };
    let event_key = match &reach.oauth_app_id {
        None => format!(
            "zoom:app_deauthorized:{}",
            sha256_hex(d.event_id.as_bytes())
        ),
        Some(id) => format!(
            "zoom:app_deauthorized:{id}:{}",
            sha256_hex(d.event_id.as_bytes())
        ),
    };
    if !app.store.record_webhook_event(&event_key, now).await? {
        return Ok(Deauthorized::AlreadyHandled);
    }
    let query = Deauthorize {
        zoom_user_id: d.user_id,
        zoom_account_id: d.account_id,
        user_connections: reach.user_connections,
        account_connections: reach.account_connections,
        deauthorized_at,
        reason: format!(
            "the app was removed in Zoom at {}; the user must authorize again",
            rfc3339(deauthorized_at)
        ),
        now,
        oauth_app_id: reach.oauth_app_id,
    };
    let changed = match app.store.deauthorize_connections(&query).await {
        Ok(changed) => changed,
        Err(err) => {
            // Let Zoom's retry do the work we could not.
            let _ = app.store.forget_webhook_event(&event_key).await;
            return Err(err.into());
        }
    };
    for conn in &changed {
        app.forget_tokens(&conn.org_id);
        app.audit(
            Some(&conn.org_id),
            &Actor::Zoom,
            AuditAction::ConnectionDeauthorized,
            AuditOutcome::Success,
            format!("connection {} ({}), tokens erased", conn.id, conn.email),
        )
        .await;
    }
    tracing::info!(count = changed.len(), "connections deauthorized");
    Ok(Deauthorized::Revoked(changed.len()))
}

fn parse_instant(raw: &str) -> Option<i64> {
    time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

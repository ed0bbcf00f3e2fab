//! An org's connections: read, disconnect, and Zoom's deauthorization.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome};
use crate::store::{Connection, Org};
use crate::zoom::ClientAuth;

use super::{ServiceError, ServiceResult};

pub async fn list(app: &AppState, org: &Org) -> ServiceResult<Vec<Connection>> {
    Ok(app.store.list_connections(&org.id).await?)
}

pub async fn get(app: &AppState, org: &Org, id: &str) -> ServiceResult<Connection> {
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
        Ok(Some(token)) => match (&app.config.zoom_client_id, &app.config.zoom_client_secret) {
            (Some(client_id), Some(client_secret)) => app
                .zoom
                .revoke(
                    &ClientAuth {
                        client_id,
                        client_secret,
                    },
                    &token,
                )
                .await
                .map_err(|e| e.to_string()),
            _ => Err("ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET are not configured".to_string()),
        },
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
    pub client_id: String,
    pub user_id: String,
    pub account_id: String,
    pub deauthorization_time: Option<String>,
}

/// What a deauthorization changed.
pub enum Deauthorized {
    /// The event was for another Zoom app; nothing changed.
    OtherApp,
    /// These many connections were revoked and their tokens erased.
    Revoked(usize),
}

/// Marks the matching connections `revoked` and erases their tokens.
/// Repeating the event changes nothing.
pub async fn deauthorize(app: &AppState, d: Deauthorization) -> ServiceResult<Deauthorized> {
    if app.config.zoom_client_id.as_deref() != Some(d.client_id.as_str()) {
        return Ok(Deauthorized::OtherApp);
    }
    if d.user_id.is_empty() && d.account_id.is_empty() {
        return Err(ServiceError::invalid(
            "invalid_body",
            "payload names neither user_id nor account_id",
        ));
    }
    // An account-level grant is revoked when its installer removes the app;
    // another admin's removal surfaces as invalid_grant on the next refresh.
    let when = d
        .deauthorization_time
        .unwrap_or_else(|| rfc3339(app.clock.now()));
    let reason = format!("the app was removed in Zoom at {when}; the user must authorize again");
    let changed = app
        .store
        .deauthorize_connections(&d.user_id, &d.account_id, &reason, app.clock.now())
        .await?;
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

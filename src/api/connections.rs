//! Connections of an org: list, show, disconnect.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;
use serde::Serialize;

use crate::app::{rfc3339, AppState};
use crate::crypto::Aad;
use crate::error::{ApiError, ApiResult};
use crate::store::Connection;
use crate::zoom::ClientAuth;

use super::Caller;

/// A connection as the API shows it: never a token.
#[derive(Serialize)]
pub struct ConnectionView {
    id: String,
    email: String,
    zoom_user_id: String,
    zoom_account_id: String,
    app_type: String,
    status: String,
    status_reason: Option<String>,
    role_name: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<String>,
    last_refreshed_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            scopes: c.scopes.split_whitespace().map(str::to_string).collect(),
            expires_at: c.access_expires_at.map(rfc3339),
            last_refreshed_at: c.last_refreshed_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            id: c.id,
            email: c.email,
            zoom_user_id: c.zoom_user_id,
            zoom_account_id: c.zoom_account_id,
            app_type: c.app_type,
            status: c.status,
            status_reason: c.status_reason,
            role_name: c.role_name,
        }
    }
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    let org = caller.org(&app, &org).await?;
    let rows = app.store.list_connections(&org.id).await?;
    Ok(Json(rows.into_iter().map(ConnectionView::from).collect()))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    let org = caller.org(&app, &org).await?;
    let conn = app
        .store
        .connection(&org.id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("connection {id:?} not found")))?;
    Ok(Json(conn.into()))
}

/// Revokes at Zoom, then deletes locally, even when Zoom's revoke fails: the
/// customer asked for the tokens to be gone. A failed revoke is reported in
/// a `Warning` header and the log.
pub async fn disconnect(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, HeaderMap)> {
    let org = caller.org(&app, &org).await?;
    let conn = app
        .store
        .connection(&org.id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("connection {id:?} not found")))?;
    let warning = disconnect_connection(&app, &conn, &caller.actor()).await?;
    let mut headers = HeaderMap::new();
    if let Some(w) = warning {
        let value = format!("199 tokenbroker \"{}\"", w.replace('"', "'"));
        headers.insert(
            "warning",
            HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(
                "199 tokenbroker \"revoke at Zoom failed\"",
            )),
        );
    }
    Ok((StatusCode::NO_CONTENT, headers))
}

/// Shared by the API and the admin console. Returns a warning when Zoom's revoke failed.
pub async fn disconnect_connection(
    app: &AppState,
    conn: &Connection,
    actor: &str,
) -> ApiResult<Option<String>> {
    let revoke_result = match revoke_token(app, conn) {
        Ok(Some(token)) => match (&app.config.zoom_client_id, &app.config.zoom_client_secret) {
            (Some(id), Some(secret)) => app
                .zoom
                .revoke(
                    &ClientAuth {
                        client_id: id,
                        client_secret: secret,
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
        "partial"
    } else {
        "success"
    };
    app.audit(
        Some(&conn.org_id),
        actor,
        "connection.disconnected",
        outcome,
        format!(
            "connection {} ({}){}",
            conn.id,
            conn.email,
            warning
                .as_deref()
                .map(|w| format!(": {w}"))
                .unwrap_or_default()
        ),
    )
    .await;
    Ok(warning)
}

/// Zoom revokes the whole grant given either token; prefer the refresh token,
/// which outlives the access token.
fn revoke_token(app: &AppState, conn: &Connection) -> Result<Option<String>, String> {
    let (column, sealed) = match (&conn.refresh_token, &conn.access_token) {
        (Some(rt), _) => ("refresh_token", rt),
        (None, Some(at)) => ("access_token", at),
        (None, None) => return Ok(None),
    };
    app.keyring
        .open_string(Aad::new("connections", &conn.id, column), sealed)
        .map(Some)
        .map_err(|e| format!("stored token could not be opened: {e}"))
}

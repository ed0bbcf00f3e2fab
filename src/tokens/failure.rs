//! What a failed refresh means: a dead grant, a concurrent rotation, or an outage.

use crate::app::AppState;
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome};
use crate::zoom::UpstreamError;

use super::refresh::{open, reload, Snapshot};
use super::{is_fresh, LiveToken, TokenError};

pub(super) async fn rejected(
    app: &AppState,
    snap: Snapshot,
    err: UpstreamError,
) -> Result<LiveToken, TokenError> {
    let key = snap.key();
    if let Snapshot::Connection(conn) = &snap {
        if err.is_invalid_grant() {
            // Another replica may have rotated the token after our read: that is success.
            if let Some(now_row) = reload(app, &snap).await? {
                if now_row.version() != snap.version()
                    && is_fresh(now_row.expires_at(), app.clock.now(), 0)
                {
                    return open(app, &now_row, Vec::new());
                }
            }
            let reason = format!(
                "Zoom rejected the refresh token ({}); the user must authorize again",
                err.reason()
            );
            app.store
                .mark_needs_reauth(&conn.id, conn.version, &reason, app.clock.now())
                .await?;
            app.forget_tokens(&conn.org_id);
            app.metrics.refresh("oauth", "invalid_grant");
            app.audit(
                Some(&conn.org_id),
                &Actor::Zoom,
                AuditAction::ConnectionNeedsReauth,
                AuditOutcome::Failure,
                format!("connection {} ({}): {}", conn.id, conn.email, err.reason()),
            )
            .await;
            return Err(TokenError::Reauth(reason));
        }
    }
    app.store
        .release_lease(snap.slot(), snap.id(), &app.instance_id)
        .await?;
    app.refresher.fail(&key);
    app.metrics.refresh(snap.kind(), "rejected");
    match snap {
        Snapshot::S2s(_) => Err(TokenError::Reauth(format!(
            "Zoom rejected the org's Server-to-Server credentials: {}",
            err.reason()
        ))),
        Snapshot::Connection(_) => Err(TokenError::Unavailable {
            retry_after_secs: 30,
            detail: format!(
                "Zoom rejected the broker's client credentials: {}",
                err.reason()
            ),
        }),
    }
}

/// During an outage, a token that has not yet expired is still worth handing out.
pub(super) fn stale_or_unavailable(
    app: &AppState,
    snap: &Snapshot,
    retry_after_secs: u64,
    detail: String,
) -> Result<LiveToken, TokenError> {
    let now = app.clock.now();
    match snap.expires_at() {
        Some(exp) if exp - now > 5 && snap.sealed_access().is_some() => {
            let warning = format!(
                "Zoom could not refresh this token just now; it stays valid until {}",
                rfc3339(exp)
            );
            open(app, snap, vec![warning])
        }
        _ => Err(TokenError::Unavailable {
            retry_after_secs,
            detail,
        }),
    }
}

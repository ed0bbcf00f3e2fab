//! What a failed refresh means: a dead grant, a lost answer, a concurrent
//! rotation, or an outage.

use crate::app::AppState;
use crate::domain::{rfc3339, Actor, AuditAction, AuditOutcome};
use crate::store::LeaseEnd;
use crate::zoom::UpstreamError;

use super::persist::Lease;
use super::snapshot::{open, reload, Snapshot};
use super::{is_fresh, LiveToken, TokenError};

/// The `needs_reauth` reason when Zoom refuses a refresh token whose
/// rotation an earlier, unanswered refresh may already have spent.
pub const LOST_ANSWER_REASON: &str =
    "a refresh answer from Zoom was lost; the user must authorize again";

/// The `needs_reauth` reason when the row is older than a rotation this
/// process stored: the database lost an acknowledged write (a failover to a
/// standby that had not received it, under asynchronous replication).
pub const LOST_WRITE_REASON: &str =
    "the database lost a stored token rotation (a failover to a standby that had not \
     received it?), so Zoom refused the older refresh token; the user must authorize again";

pub(super) async fn rejected(
    app: &AppState,
    snap: Snapshot,
    lease: &Lease,
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
            // Zoom rotates on every refresh: if an earlier call with this very
            // refresh token got no answer, Zoom most likely rotated it then.
            let lost_write = app.refresher.journal.lost_since(&conn.id, conn.version);
            let (reason, outcome) = if let Some(stored) = lost_write {
                tracing::error!(
                    connection = %conn.id,
                    stored_version = stored,
                    found_version = conn.version,
                    "refresh token rejected after the database lost a rotation this process stored"
                );
                (LOST_WRITE_REASON.to_string(), "lost_write")
            } else if lease.earlier_answer_lost {
                (LOST_ANSWER_REASON.to_string(), "answer_lost")
            } else {
                (
                    format!(
                        "Zoom rejected the refresh token ({}): revoked at Zoom, or a rotation \
                         lost by a database failover; the user must authorize again",
                        err.reason()
                    ),
                    "invalid_grant",
                )
            };
            app.store
                .mark_needs_reauth(&conn.id, conn.version, &reason, app.clock.now())
                .await?;
            app.forget_tokens(&conn.org_id);
            app.metrics.refresh("oauth", outcome);
            app.audit(
                Some(&conn.org_id),
                &Actor::Zoom,
                AuditAction::ConnectionNeedsReauth,
                AuditOutcome::Failure,
                format!("connection {} ({}): {reason}", conn.id, conn.email),
            )
            .await;
            return Err(TokenError::Reauth(reason));
        }
    }
    release(app, &snap, lease, LeaseEnd::Settled).await?;
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

/// Zoom could not be reached, answered 5xx, or its answer was lost. The
/// stored refresh token stays; a lost answer is remembered on the row (it
/// explains a later `invalid_grant`), and the connection backs off.
pub(super) async fn unanswered(
    app: &AppState,
    snap: Snapshot,
    lease: &Lease,
    end: LeaseEnd,
    err: UpstreamError,
) -> Result<LiveToken, TokenError> {
    let key = snap.key();
    release(app, &snap, lease, end).await?;
    let wait = app.refresher.fail(&key);
    // Audit the first failure of an outage, not every retry of it.
    if wait.as_secs() <= 1 {
        let detail = format!("{} {}: {err}", snap.table(), snap.id());
        app.audit(
            Some(snap.org_id()),
            &Actor::Zoom,
            AuditAction::ConnectionRefreshFailed,
            AuditOutcome::Failure,
            detail,
        )
        .await;
    }
    let outcome = match end {
        LeaseEnd::AnswerLost => "no_answer",
        LeaseEnd::Settled => "unavailable",
    };
    app.metrics.refresh(snap.kind(), outcome);
    stale_or_unavailable(app, &snap, wait.as_secs().max(1), err.to_string())
}

async fn release(
    app: &AppState,
    snap: &Snapshot,
    lease: &Lease,
    end: LeaseEnd,
) -> Result<(), TokenError> {
    app.store
        .release_lease(snap.slot(), snap.id(), &lease.owner, end)
        .await?;
    Ok(())
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

//! Replacing an access token that Zoom refused before its time (revoked,
//! rotated early, or the clocks disagree): through the same single flight
//! and lease as every refresh, so however many calls saw the refusal at
//! once, the grant is refreshed exactly once.

use crate::app::AppState;
use crate::store::TokenSlot;

use super::refresh::{obtain_meeting, Need};
use super::snapshot::Snapshot;
use super::{LiveToken, TokenError, TokenOrigin};

/// A token to use instead of the one of `refused`'s row version. If the row
/// has moved on since (another caller or replica already replaced it), that
/// token is used as it is; else the grant is refreshed now.
pub async fn replace_refused(
    app: &AppState,
    refused: &TokenOrigin,
) -> Result<LiveToken, TokenError> {
    let row = match refused.slot {
        TokenSlot::Connection => app
            .store
            .connection_by_id(&refused.row_id)
            .await?
            .map(Snapshot::Connection),
        TokenSlot::S2s => app
            .store
            .s2s_by_id(&refused.row_id)
            .await?
            .map(Snapshot::S2s),
    };
    let snap = row
        .filter(|s| s.org_id() == refused.org_id)
        .ok_or(TokenError::NotConnected)?;
    let need = Need {
        ahead_secs: app.config.refresh_ahead.as_secs(),
        replacing: Some(refused.version),
    };
    let token = obtain_meeting(app, snap.clone(), need, Some(app.config.upstream_timeout)).await?;
    if token.origin.as_ref().map(|o| o.version) == Some(refused.version) {
        // A degraded answer: the stored token, because Zoom could not be reached.
        return Err(TokenError::Unavailable {
            retry_after_secs: 2,
            detail: "the refused token could not be replaced yet".into(),
        });
    }
    Ok(token)
}

//! Server-to-Server OAuth: `grant_type=account_credentials`, one shared
//! token per org. Zoom has invalidated earlier S2S tokens when minting new
//! ones, so a token is minted only when the stored one is about to expire.

use crate::app::AppState;
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

use super::refresh::obtain;
use super::snapshot::Snapshot;
use super::{LiveToken, TokenError};

/// The org's S2S token, or `None` when the org has no S2S credentials.
pub async fn s2s_token(app: &AppState, org_id: &str) -> Result<Option<LiveToken>, TokenError> {
    s2s_token_for(app, org_id, 0).await
}

/// As `s2s_token`, minting a new token first if the stored one would expire
/// within `min_valid` seconds.
pub async fn s2s_token_for(
    app: &AppState,
    org_id: &str,
    min_valid: u64,
) -> Result<Option<LiveToken>, TokenError> {
    match app.store.s2s(org_id).await? {
        Some(row) => {
            let ahead = app.config.refresh_ahead.as_secs().max(min_valid);
            let wait = Some(app.config.upstream_timeout);
            obtain(app, Snapshot::S2s(row), ahead, wait).await.map(Some)
        }
        None => Ok(None),
    }
}

/// Mints a token straight from credentials; used to check them before they are stored.
pub async fn fetch_s2s_token(
    app: &AppState,
    client_id: &str,
    client_secret: &str,
    account_id: &str,
) -> Result<TokenSet, UpstreamError> {
    app.zoom
        .account_credentials(
            &ClientAuth {
                client_id,
                client_secret,
            },
            account_id,
            None,
        )
        .await
}

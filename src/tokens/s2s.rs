//! Server-to-Server OAuth: `grant_type=account_credentials`, one shared
//! token per entry (an org may hold one entry per Zoom account, keyed by
//! email). Zoom has invalidated earlier S2S tokens when minting new ones, so
//! a token is minted only when the stored one is about to expire.

use crate::app::AppState;
use crate::domain::Email;
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

use super::refresh::obtain;
use super::snapshot::Snapshot;
use super::{LiveToken, TokenError};

/// Which of an org's entries serves `email`: the entry with that email,
/// else the first one (`entries` come earliest created first). Without an
/// email (the org's own account-level calls), the first.
pub fn pick_account<T>(
    entries: Vec<T>,
    email: Option<&Email>,
    key: impl Fn(&T) -> &str,
) -> Option<T> {
    let own = email.and_then(|email| entries.iter().position(|e| key(e) == email.as_str()));
    entries.into_iter().nth(own.unwrap_or(0))
}

/// The S2S token for `email` with the email of the entry that served it, or
/// `None` when the org has no S2S credentials.
pub async fn s2s_token(
    app: &AppState,
    org_id: &str,
    email: &Email,
) -> Result<Option<(LiveToken, String)>, TokenError> {
    s2s_token_for(app, org_id, Some(email), 0).await
}

/// As `s2s_token`, minting a new token first if the stored one would expire
/// within `min_valid` seconds.
pub async fn s2s_token_for(
    app: &AppState,
    org_id: &str,
    email: Option<&Email>,
    min_valid: u64,
) -> Result<Option<(LiveToken, String)>, TokenError> {
    let entries = app.store.s2s_entries(org_id).await?;
    match pick_account(entries, email, |e| &e.email) {
        Some(row) => {
            let account = row.email.clone();
            let ahead = app.config.refresh_ahead.as_secs().max(min_valid);
            let wait = Some(app.config.upstream_timeout);
            let token = obtain(app, Snapshot::S2s(row), ahead, wait).await?;
            Ok(Some((token, account)))
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

//! The one upstream call a refresh makes: `refresh_token` for a connection,
//! `account_credentials` for S2S credentials.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

use super::snapshot::Snapshot;

/// Calls Zoom, awaiting the answer up to `TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS`.
/// Failures before anything was sent (secrets that cannot be opened, no
/// client configured) are `Protocol` errors: Zoom saw nothing.
pub(super) async fn call_upstream(
    app: &AppState,
    snap: &Snapshot,
) -> Result<TokenSet, UpstreamError> {
    let opened = |column: SealedColumn, sealed: &str| {
        app.keyring
            .open_string(Aad::new(column, snap.id()), sealed)
            .map_err(|e| {
                UpstreamError::Protocol(format!(
                    "stored {} could not be opened: {e}",
                    column.column
                ))
            })
    };
    let wait = app.config.timing.refresh_answer;
    match snap {
        Snapshot::Connection(c) => {
            // A connection keeps the Zoom app it was made with.
            let zoom_app = super::apps::for_grant(app, c.oauth_app_id.as_deref(), c.app_type)
                .await
                .map_err(UpstreamError::Protocol)?;
            let sealed = c
                .refresh_token
                .as_deref()
                .ok_or_else(|| UpstreamError::Protocol("no refresh token stored".into()))?;
            let refresh_token = opened(SealedColumn::CONNECTION_REFRESH_TOKEN, sealed)?;
            app.zoom
                .refresh(&zoom_app.auth(), &refresh_token, wait)
                .await
        }
        Snapshot::S2s(s) => {
            let secret = opened(SealedColumn::S2S_CLIENT_SECRET, &s.client_secret)?;
            let auth = ClientAuth {
                client_id: &s.client_id,
                client_secret: &secret,
            };
            app.zoom
                .account_credentials(&auth, &s.account_id, Some(wait))
                .await
        }
    }
}

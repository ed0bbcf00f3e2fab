//! The one upstream call a refresh makes: `refresh_token` for a connection,
//! `account_credentials` for S2S credentials.

use crate::app::AppState;
use crate::crypto::Aad;
use crate::zoom::{ClientAuth, TokenSet, UpstreamError};

use super::snapshot::Snapshot;

/// Calls Zoom, awaiting the answer up to `TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS`.
/// Failures before anything was sent (secrets that cannot be opened, no
/// client configured) are `Protocol` errors: Zoom saw nothing.
pub(super) async fn call_upstream(
    app: &AppState,
    snap: &Snapshot,
) -> Result<TokenSet, UpstreamError> {
    let opened = |column: &str, sealed: &str| {
        app.keyring
            .open_string(Aad::new(snap.table(), snap.id(), column), sealed)
            .map_err(|e| {
                UpstreamError::Protocol(format!("stored {column} could not be opened: {e}"))
            })
    };
    let wait = app.config.timing.refresh_answer;
    match snap {
        Snapshot::Connection(c) => {
            let (Some(id), Some(secret)) =
                (&app.config.zoom_client_id, &app.config.zoom_client_secret)
            else {
                return Err(UpstreamError::Protocol(
                    "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET are not configured".into(),
                ));
            };
            let sealed = c
                .refresh_token
                .as_deref()
                .ok_or_else(|| UpstreamError::Protocol("no refresh token stored".into()))?;
            let refresh_token = opened("refresh_token", sealed)?;
            let auth = ClientAuth {
                client_id: id,
                client_secret: secret,
            };
            app.zoom.refresh(&auth, &refresh_token, wait).await
        }
        Snapshot::S2s(s) => {
            let secret = opened("client_secret", &s.client_secret)?;
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

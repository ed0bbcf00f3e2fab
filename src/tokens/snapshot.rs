//! Rows that hold a refreshable token: OAuth connections and S2S credentials.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::ConnectionStatus;
use crate::store::{Connection, S2sCredentials, TokenSlot};

use super::{LiveToken, TokenError};

/// A row that holds a refreshable token.
#[derive(Debug, Clone)]
pub enum Snapshot {
    Connection(Connection),
    S2s(S2sCredentials),
}

impl Snapshot {
    pub(super) fn slot(&self) -> TokenSlot {
        match self {
            Self::Connection(_) => TokenSlot::Connection,
            Self::S2s(_) => TokenSlot::S2s,
        }
    }
    pub(super) fn table(&self) -> &'static str {
        match self {
            Self::Connection(_) => "connections",
            Self::S2s(_) => "s2s_credentials",
        }
    }
    pub(super) fn access_column(&self) -> SealedColumn {
        match self {
            Self::Connection(_) => SealedColumn::CONNECTION_ACCESS_TOKEN,
            Self::S2s(_) => SealedColumn::S2S_ACCESS_TOKEN,
        }
    }
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Connection(_) => "oauth",
            Self::S2s(_) => "s2s",
        }
    }
    pub(super) fn id(&self) -> &str {
        match self {
            Self::Connection(c) => &c.id,
            Self::S2s(s) => &s.id,
        }
    }
    pub(super) fn key(&self) -> String {
        format!("{}:{}", self.table(), self.id())
    }
    pub(super) fn org_id(&self) -> &str {
        match self {
            Self::Connection(c) => &c.org_id,
            Self::S2s(s) => &s.org_id,
        }
    }
    pub(super) fn version(&self) -> i64 {
        match self {
            Self::Connection(c) => c.version,
            Self::S2s(s) => s.version,
        }
    }
    pub(super) fn expires_at(&self) -> Option<i64> {
        match self {
            Self::Connection(c) => c.access_expires_at,
            Self::S2s(s) => s.access_expires_at,
        }
    }
    pub(super) fn scopes(&self) -> &str {
        match self {
            Self::Connection(c) => &c.scopes,
            Self::S2s(s) => &s.scopes,
        }
    }
    pub(super) fn origin(&self, version: i64) -> super::TokenOrigin {
        super::TokenOrigin {
            slot: self.slot(),
            row_id: self.id().to_string(),
            org_id: self.org_id().to_string(),
            version,
            zoom_account: match self {
                Self::Connection(c) => c.zoom_account_id.clone(),
                Self::S2s(s) => s.account_id.clone(),
            },
        }
    }
    pub(super) fn sealed_access(&self) -> Option<&str> {
        match self {
            Self::Connection(c) => c.access_token.as_deref(),
            Self::S2s(s) => s.access_token.as_deref(),
        }
    }
    /// `Err` with the reason when the row can no longer produce tokens.
    pub(super) fn usable(&self) -> Result<(), TokenError> {
        match self {
            Self::Connection(c) if c.status != ConnectionStatus::Active => Err(TokenError::Reauth(
                c.status_reason.clone().unwrap_or_else(|| {
                    format!(
                        "the Zoom connection for {} is {}; the user must authorize again",
                        c.email, c.status
                    )
                }),
            )),
            _ => Ok(()),
        }
    }
}

/// Reads the row a snapshot came from, again.
pub(super) async fn reload(
    app: &AppState,
    snap: &Snapshot,
) -> Result<Option<Snapshot>, TokenError> {
    Ok(match snap {
        Snapshot::Connection(c) => app
            .store
            .connection_by_id(&c.id)
            .await?
            .map(Snapshot::Connection),
        Snapshot::S2s(s) => app
            .store
            .s2s_by_id(&s.id)
            .await?
            .filter(|row| row.org_id == s.org_id)
            .map(Snapshot::S2s),
    })
}

pub(super) fn open(
    app: &AppState,
    snap: &Snapshot,
    warnings: Vec<String>,
) -> Result<LiveToken, TokenError> {
    let sealed = snap.sealed_access().ok_or(TokenError::NotConnected)?;
    let access_token = app
        .keyring
        .open_string(Aad::new(snap.access_column(), snap.id()), sealed)?;
    Ok(LiveToken {
        access_token,
        expires_at: snap.expires_at().unwrap_or_default(),
        scopes: snap.scopes().to_string(),
        warnings,
        origin: Some(snap.origin(snap.version())),
    })
}

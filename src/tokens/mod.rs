//! Token resolution and refresh: the core promise of the broker.
//!
//! Zoom rotates refresh tokens, so a second refresh of the same token kills
//! the grant. Three layers keep it to exactly one upstream call per expiry:
//! an in-process single-flight per connection, a lease row guard shared by
//! every replica, and a compare-and-swap on the row's `version` when storing.

pub mod apps;
mod background;
mod failure;
mod journal;
mod jwt;
mod persist;
mod refresh;
mod replace;
mod resolve;
mod s2s;
mod sdk;
mod single_flight;
mod snapshot;
mod upstream;
mod usage;

use std::fmt;

pub use background::spawn_background_refresher;
pub use failure::{LOST_ANSWER_REASON, LOST_WRITE_REASON};
pub use jwt::legacy_jwt;
pub use refresh::{connection_token, Refresher};
pub use replace::replace_refused;
pub use resolve::{resolve, resolve_for, resolve_within, ResolvedToken};
pub use s2s::{fetch_s2s_token, pick_account, s2s_token};
pub use sdk::{sdk_signature, SDK_CLOCK_SKEW_SECS};
pub use usage::{flush_usage, needs_recording, spawn_usage_flusher, UsageLog};

/// An access token ready to hand out. `Debug` hides the token.
#[derive(Clone)]
pub struct LiveToken {
    pub access_token: String,
    pub expires_at: i64,
    pub scopes: String,
    pub warnings: Vec<String>,
    /// The row the token came from; `None` for a legacy JWT.
    pub origin: Option<TokenOrigin>,
}

/// Where a refreshable token is stored, and which version of the row it
/// is: what replacing a token Zoom refused needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOrigin {
    pub slot: crate::store::TokenSlot,
    pub row_id: String,
    pub org_id: String,
    /// The row's `version` that holds this token.
    pub version: i64,
    /// The Zoom account the token acts in (its rate limits are this account's).
    pub zoom_account: String,
}

impl fmt::Debug for LiveToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveToken")
            .field("access_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Why no token could be produced. Cloneable so one refresh result can be
/// shared with every waiting caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("no Zoom connection, Server-to-Server credentials or JWT key for this user")]
    NotConnected,
    #[error("{0}")]
    Reauth(String),
    /// The legacy JWT key stopped working at this instant (unix seconds).
    #[error("the legacy JWT key stopped working at {}; authorize the Zoom OAuth app instead", crate::domain::rfc3339(*.0))]
    JwtCutoffPassed(i64),
    #[error("Zoom is unavailable: {detail}")]
    Unavailable {
        retry_after_secs: u64,
        detail: String,
    },
    /// The database did not answer in time.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for TokenError {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_unavailable() {
            TokenError::DatabaseUnavailable(err.to_string())
        } else {
            TokenError::Internal(err.to_string())
        }
    }
}

impl From<crate::crypto::CryptoError> for TokenError {
    fn from(err: crate::crypto::CryptoError) -> Self {
        TokenError::Internal(format!("stored token could not be opened: {err}"))
    }
}

/// True when the token outlives the refresh-ahead window.
pub(crate) fn is_fresh(expires_at: Option<i64>, now: i64, ahead_secs: u64) -> bool {
    matches!(expires_at, Some(exp) if exp - now > ahead_secs as i64)
}

//! Zoom's wire shapes.

use std::fmt;

use serde::Deserialize;

/// A token endpoint answer. `Debug` hides the tokens.
#[derive(Clone, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl TokenSet {
    /// Zoom omits `expires_in` at times; its tokens live an hour.
    pub fn lifetime_secs(&self) -> i64 {
        self.expires_in.filter(|s| *s > 0).unwrap_or(3600)
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The fields of `GET /users/me` the broker uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ZoomUser {
    pub id: String,
    pub email: String,
    pub account_id: String,
    #[serde(default)]
    pub role_name: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub role_id: Option<String>,
}

impl ZoomUser {
    /// Owners and admins may install an account-level app. Zoom's built-in
    /// role ids are "0" (Owner) and "1" (Admin).
    pub fn is_account_admin(&self) -> bool {
        let by_name = matches!(
            self.role_name
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("owner" | "admin")
        );
        let by_id = matches!(self.role_id.as_deref(), Some("0" | "1"));
        by_name || by_id
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match value {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Zoom's error bodies: OAuth (`error`, `reason`) and REST (`code`, `message`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ZoomErrorBody {
    pub error: Option<String>,
    pub reason: Option<String>,
    pub error_description: Option<String>,
    pub code: Option<i64>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// Zoom answered with a 4xx and a reason.
    #[error("Zoom refused ({status} {error}): {reason}")]
    Rejected {
        status: u16,
        error: String,
        reason: String,
    },
    /// 5xx or 429, or Zoom could not be reached (so it never saw the call):
    /// worth retrying later.
    #[error("Zoom is unavailable: {0}")]
    Unavailable(String),
    /// The call was sent, and no usable answer came back (timeout, dropped
    /// connection, unreadable success). Zoom may have acted on it: for a
    /// refresh, it may have rotated the refresh token.
    #[error("Zoom's answer was lost: {0}")]
    AnswerLost(String),
    #[error("{0}")]
    Protocol(String),
}

impl UpstreamError {
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::Rejected { error, .. } if error == "invalid_grant")
    }

    /// Text fit for a person: Zoom's reason, without internals.
    pub fn reason(&self) -> String {
        match self {
            Self::Rejected { reason, .. } => reason.clone(),
            Self::Unavailable(_) | Self::AnswerLost(_) => "Zoom did not answer in time".into(),
            Self::Protocol(_) => "Zoom gave an answer we could not understand".into(),
        }
    }
}

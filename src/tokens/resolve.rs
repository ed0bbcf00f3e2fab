//! Which token a user gets: their own OAuth connection, then the org's
//! account-level connection, then S2S credentials, then the legacy JWT key.

use serde::Serialize;

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::{rfc3339, AuthType, Email};
use crate::store::Org;

use super::refresh::connection_token_for;
use super::s2s::s2s_token_for;
use super::{legacy_jwt, pick_account, LiveToken, TokenError};

/// The only token type Zoom issues.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
pub enum TokenType {
    Bearer,
}

/// A token handed out by the token API.
#[derive(Serialize, Clone, utoipa::ToSchema)]
#[schema(as = Token)]
pub struct ResolvedToken {
    /// `expires_at` as unix seconds, for caching.
    #[serde(skip)]
    pub expires_unix: i64,
    /// False when a warning says something is degraded (an outage, a source
    /// needing re-authorization): such an answer must not outlive the moment.
    #[serde(skip)]
    pub cacheable: bool,
    /// The connection's `last_used_at` as read with it: a use within a
    /// granularity of it need not be noted again.
    #[serde(skip)]
    pub recorded_use: Option<i64>,
    pub access_token: String,
    pub token_type: TokenType,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub auth_type: AuthType,
    /// The OAuth connection the token came from; null for S2S and JWT.
    pub connection_id: Option<String>,
    /// For S2S and JWT: the email of the org's account entry that served the
    /// token (the user's own entry, else the org's first); null for OAuth and
    /// for a JWT entry without an email.
    pub account_email: Option<String>,
    pub scopes: Vec<String>,
    /// Something degraded that the caller should know (an outage, a source
    /// needing re-authorization, a legacy JWT nearing its cutoff).
    pub warnings: Vec<String>,
    /// The row and version the token came from (`None`: a legacy JWT), so
    /// the proxy can replace a token Zoom refused.
    #[serde(skip)]
    pub origin: Option<super::TokenOrigin>,
    /// The Zoom account whose rate limits the token's calls draw on.
    #[serde(skip)]
    pub zoom_account: String,
    /// The JSON answer, made once per token: a cache hit then hands out a
    /// reference to it instead of serializing again. See `json`.
    #[serde(skip)]
    json: std::sync::OnceLock<bytes::Bytes>,
}

impl ResolvedToken {
    /// The token as the token API answers it. The first call fixes it: a
    /// token changed afterwards must call `changed` (the proxy's copy does).
    pub fn json(&self) -> bytes::Bytes {
        self.json
            .get_or_init(|| serde_json::to_vec(self).expect("a token serializes").into())
            .clone()
    }

    /// Forgets the JSON made before a change.
    pub fn changed(&mut self) {
        self.json = std::sync::OnceLock::new();
    }
}

impl std::fmt::Debug for ResolvedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedToken")
            .field("auth_type", &self.auth_type)
            .field("connection_id", &self.connection_id)
            .finish_non_exhaustive()
    }
}

fn answer(
    token: LiveToken,
    auth_type: AuthType,
    connection_id: Option<String>,
    mut warnings: Vec<String>,
    notice: Option<String>,
) -> ResolvedToken {
    warnings.extend(token.warnings);
    let zoom_account = token
        .origin
        .as_ref()
        .map(|o| o.zoom_account.clone())
        .unwrap_or_default();
    let cacheable = warnings.is_empty();
    warnings.extend(notice);
    ResolvedToken {
        expires_unix: token.expires_at,
        cacheable,
        recorded_use: None,
        access_token: token.access_token,
        token_type: TokenType::Bearer,
        expires_at: rfc3339(token.expires_at),
        auth_type,
        connection_id,
        account_email: None,
        scopes: token
            .scopes
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        warnings,
        origin: token.origin,
        zoom_account,
        json: std::sync::OnceLock::new(),
    }
}

/// The OAuth sources, in order; each is read only if the one before did not answer.
#[derive(Clone, Copy)]
enum AuthSource {
    User,
    Account,
}

pub async fn resolve(
    app: &AppState,
    org: &Org,
    email: &Email,
) -> Result<ResolvedToken, TokenError> {
    resolve_within(app, org, email, 0).await
}

/// As `resolve`, refreshing an OAuth or S2S token first when it expires
/// within `min_valid` seconds (or the refresh-ahead window, if longer).
pub async fn resolve_within(
    app: &AppState,
    org: &Org,
    email: &Email,
    min_valid: u64,
) -> Result<ResolvedToken, TokenError> {
    resolve_for(app, org, Some(email), min_valid).await
}

/// As `resolve_within`; without an email, the org's own account-level
/// token: its account-level connection, S2S credentials (the first entry),
/// then the legacy JWT key.
pub async fn resolve_for(
    app: &AppState,
    org: &Org,
    email: Option<&Email>,
    min_valid: u64,
) -> Result<ResolvedToken, TokenError> {
    // A source that exists but needs re-authorization does not stop the
    // search; it is reported only if nothing else applies.
    let mut blocked: Option<String> = None;
    let mut warnings = Vec::new();

    for source in [AuthSource::User, AuthSource::Account] {
        let found = match (source, email) {
            (AuthSource::User, None) => None,
            (AuthSource::User, Some(email)) => {
                app.store
                    .user_connection_for_email(&org.id, email.as_str())
                    .await?
            }
            (AuthSource::Account, _) => app.store.account_connection(&org.id).await?,
        };
        let Some(conn) = found else { continue };
        let id = conn.id.clone();
        let recorded_use = conn.last_used_at;
        match connection_token_for(app, conn, min_valid).await {
            Ok(token) => {
                let mut answer = answer(token, AuthType::Oauth, Some(id), warnings, None);
                answer.recorded_use = recorded_use;
                return Ok(answer);
            }
            Err(TokenError::Reauth(reason)) => {
                warnings.push(format!(
                    "Zoom connection {id} needs re-authorization: {reason}"
                ));
                blocked.get_or_insert(reason);
            }
            Err(TokenError::NotConnected) => {}
            Err(other) => return Err(other),
        }
    }

    match s2s_token_for(app, &org.id, email, min_valid).await {
        Ok(Some((token, account))) => {
            let mut answer = answer(token, AuthType::S2s, None, warnings, None);
            answer.account_email = Some(account);
            return Ok(answer);
        }
        Ok(None) => {}
        Err(TokenError::Reauth(reason)) => {
            warnings.push(reason.clone());
            blocked.get_or_insert(reason);
        }
        Err(other) => return Err(other),
    }

    let entries = app.store.jwt_entries(&org.id).await?;
    if let Some(creds) = pick_account(entries, email, |e| &e.email) {
        let cutoff = app.config.jwt_cutoff.unix_timestamp();
        let now = app.clock.now();
        if now < cutoff {
            let secret = app.keyring.open_string(
                Aad::new(SealedColumn::JWT_API_SECRET, &creds.id),
                &creds.api_secret,
            )?;
            let (jwt, exp) = legacy_jwt(&creds.api_key, &secret, now, cutoff)?;
            let days = (cutoff - now) / 86_400;
            let notice = format!(
                "legacy JWT authentication stops working at {} ({days} days left); authorize the Zoom OAuth app before then",
                rfc3339(cutoff)
            );
            let token = LiveToken {
                access_token: jwt,
                expires_at: exp,
                scopes: String::new(),
                warnings: Vec::new(),
                origin: None,
            };
            let mut answer = answer(token, AuthType::Jwt, None, warnings, Some(notice));
            // A JWT key acts account-wide; the key names the account.
            answer.zoom_account = format!("jwt:{}", creds.id);
            answer.account_email = Some(creds.email).filter(|e| !e.is_empty());
            return Ok(answer);
        }
        if blocked.is_none() {
            return Err(TokenError::JwtCutoffPassed(cutoff));
        }
    }

    Err(match blocked {
        Some(reason) => TokenError::Reauth(reason),
        None => TokenError::NotConnected,
    })
}

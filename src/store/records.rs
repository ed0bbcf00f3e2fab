//! Rows as the store reads and writes them. Sealed columns hold ciphertext.

use sqlx::FromRow;

use crate::domain::{AppType, AuditAction, AuditOutcome, ConnectionStatus};

#[derive(Debug, Clone, FromRow)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct ApiKey {
    pub id: String,
    /// `None`: the key may act on every org.
    pub org_id: Option<String>,
    /// Hex SHA-256 of the secret part; the secret itself is never stored.
    pub secret_hash: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Space-separated `Scope` texts (migration 0009).
    pub scopes: String,
    /// Unix seconds after which the key answers 401; `None`: never.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ConnectSession {
    pub id: String,
    pub org_id: String,
    pub token_hash: String,
    pub email: String,
    pub app_type: AppType,
    pub return_to: Option<String>,
    pub created_by: String,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub created_at: i64,
    /// Products the CRM preselected (`ZOOM_PRODUCTS` names), space-joined;
    /// `None` when it chose none.
    pub products: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PendingAuthorization {
    pub id: String,
    pub session_id: String,
    pub org_id: String,
    pub state_hash: String,
    /// Sealed.
    pub pkce_verifier: String,
    pub email: String,
    pub app_type: AppType,
    pub return_to: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
    /// The org's own Zoom app this authorization began with; `None`: the deployment's.
    pub oauth_app_id: Option<String>,
}

/// What happened when a one-time record was claimed.
#[derive(Debug, Clone)]
pub enum Consumed<T> {
    Claimed(T),
    AlreadyUsed(T),
    Expired(T),
    Unknown,
}

#[derive(Debug, Clone, FromRow)]
pub struct Connection {
    pub id: String,
    pub org_id: String,
    pub app_type: AppType,
    pub subject: String,
    pub zoom_user_id: String,
    pub zoom_account_id: String,
    pub email: String,
    pub role_name: Option<String>,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub scopes: String,
    /// Sealed.
    pub access_token: Option<String>,
    /// Sealed.
    pub refresh_token: Option<String>,
    pub access_expires_at: Option<i64>,
    pub version: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the grant was last given (created or re-authorized).
    pub authorized_at: Option<i64>,
    /// When a token of it was last handed out, at the resolution of
    /// `TOKENBROKER_USAGE_GRANULARITY_SECS` (absent from narrower queries).
    #[sqlx(default)]
    pub last_used_at: Option<i64>,
    /// The org's own Zoom app it was made with; `None`: the deployment's app.
    pub oauth_app_id: Option<String>,
}

/// Of a user's unrevoked connections, the one that serves them: a live one
/// over one that needs re-authorization, then the most recently updated.
pub fn preferred_connection(rows: Vec<Connection>) -> Option<Connection> {
    rows.into_iter()
        .max_by_key(|c| (c.status == ConnectionStatus::Active, c.updated_at))
}

/// Which connections a Zoom deauthorization reaches.
#[derive(Debug, Clone)]
pub struct Deauthorize {
    pub zoom_user_id: String,
    pub zoom_account_id: String,
    /// User-level connections of `zoom_user_id`.
    pub user_connections: bool,
    pub account_connections: AccountReach,
    /// Grants given after this instant are newer than the event and stay.
    pub deauthorized_at: i64,
    pub reason: String,
    pub now: i64,
    /// Only connections made with this org app; `None`: the deployment's app.
    pub oauth_app_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountReach {
    None,
    /// Only where `zoom_user_id` installed it (one app serves both kinds).
    Installer,
    /// Every account-level connection on `zoom_account_id`, in every org.
    WholeAccount,
}

impl AccountReach {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::None => 0,
            Self::Installer => 1,
            Self::WholeAccount => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RefreshedTokens {
    pub id: String,
    pub expected_version: i64,
    pub access_token: String,
    /// `None` keeps the stored refresh token (Zoom did not rotate it).
    pub refresh_token: Option<String>,
    pub access_expires_at: i64,
    pub scopes: Option<String>,
    pub now: i64,
    /// The lease holder storing it: the store is refused to anyone else.
    pub lease_owner: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct S2sCredentials {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub account_id: String,
    pub client_id: String,
    /// Sealed.
    pub client_secret: String,
    /// Sealed.
    pub access_token: Option<String>,
    pub access_expires_at: Option<i64>,
    pub scopes: String,
    pub version: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct JwtCredentials {
    pub id: String,
    pub org_id: String,
    /// The Zoom account's email this key serves, or `""` for the org-wide entry.
    pub email: String,
    pub api_key: String,
    /// Sealed.
    pub api_secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A Meeting SDK app's key and (sealed) secret, one per org.
#[derive(Debug, Clone, FromRow)]
pub struct SdkCredentials {
    pub id: String,
    pub org_id: String,
    pub sdk_key: String,
    /// Sealed.
    pub sdk_secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub org_id: Option<String>,
    pub actor: String,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub detail: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct AuditEvent {
    pub id: i64,
    pub org_id: Option<String>,
    pub actor: String,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
    pub detail: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct SealedCell {
    pub id: String,
    pub sealed: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct AdminLink {
    pub id: String,
    pub org_id: String,
    pub token_hash: String,
    pub email: String,
    pub created_by: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AdminSession {
    pub id_hash: String,
    pub org_id: String,
    pub email: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
}

/// An org's own Zoom OAuth app. `Debug` is derived: both secrets are sealed.
#[derive(Debug, Clone, FromRow)]
pub struct OrgOauthApp {
    pub id: String,
    pub org_id: String,
    pub client_id: String,
    /// Sealed.
    pub client_secret: String,
    pub app_type: AppType,
    /// Sealed.
    pub webhook_secret_token: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

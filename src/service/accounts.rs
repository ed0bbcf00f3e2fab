//! An org's Zoom account entries (S2S and legacy JWT credentials, one per
//! email) as they may be shown: never a secret, each with its status.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, AccountStatus};
use crate::store::{JwtCredentials, Org, S2sCredentials};

use super::ServiceResult;

/// One Server-to-Server entry of an org.
#[derive(Debug, Serialize, ToSchema)]
pub struct S2sAccount {
    /// The Zoom account's email; a user with this email is served by this entry.
    pub email: String,
    pub account_id: String,
    pub client_id: String,
    /// Always `ok`: Zoom accepted the credentials when they were stored.
    pub status: AccountStatus,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// One legacy JWT entry of an org.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwtAccount {
    /// The Zoom account's email; null for the org-wide entry given without one.
    pub email: Option<String>,
    /// The first characters of the API key.
    pub api_key_hint: String,
    /// `jwt_expiring` before the cutoff, `jwt_expired` after it.
    pub status: AccountStatus,
    /// Whole days until the JWT cutoff; negative once it has passed.
    pub days_left: i64,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

pub fn s2s_account(row: S2sCredentials) -> S2sAccount {
    S2sAccount {
        email: row.email,
        account_id: row.account_id,
        client_id: row.client_id,
        status: AccountStatus::Ok,
        updated_at: rfc3339(row.updated_at),
    }
}

pub fn jwt_account(app: &AppState, row: JwtCredentials) -> JwtAccount {
    let cutoff = app.config.jwt_cutoff.unix_timestamp();
    let now = app.clock.now();
    JwtAccount {
        email: Some(row.email).filter(|e| !e.is_empty()),
        api_key_hint: format!("{}…", row.api_key.chars().take(4).collect::<String>()),
        status: if now < cutoff {
            AccountStatus::JwtExpiring
        } else {
            AccountStatus::JwtExpired
        },
        days_left: (cutoff - now).div_euclid(86_400),
        updated_at: rfc3339(row.updated_at),
    }
}

/// The org's S2S entries, the first (the default for other users) first.
pub async fn s2s_accounts(app: &AppState, org: &Org) -> ServiceResult<Vec<S2sAccount>> {
    let rows = app.store.s2s_entries(&org.id).await?;
    Ok(rows.into_iter().map(s2s_account).collect())
}

/// The org's JWT entries, the first (the default for other users) first.
pub async fn jwt_accounts(app: &AppState, org: &Org) -> ServiceResult<Vec<JwtAccount>> {
    let rows = app.store.jwt_entries(&org.id).await?;
    Ok(rows.into_iter().map(|r| jwt_account(app, r)).collect())
}

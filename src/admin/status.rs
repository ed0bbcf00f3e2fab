//! Where an org stands in its move off JWT.

use serde::Serialize;

use crate::app::{rfc3339, AppState};
use crate::store::{Org, StoreError};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    /// An active OAuth connection serves the org.
    Oauth,
    /// No OAuth connection, but Server-to-Server credentials.
    S2s,
    /// Only the legacy JWT key, before the cutoff.
    JwtOnly,
    /// Only the legacy JWT key, after the cutoff: the integration is broken.
    JwtExpired,
    /// Nothing at all.
    None,
}

#[derive(Debug, Serialize)]
pub struct MigrationStatus {
    pub state: MigrationState,
    pub jwt_cutoff: String,
    /// Whole days until the cutoff; negative once it has passed.
    pub days_left: i64,
    pub has_jwt: bool,
    pub has_s2s: bool,
    pub active_connections: usize,
}

pub async fn migration_status(app: &AppState, org: &Org) -> Result<MigrationStatus, StoreError> {
    let active_connections = app
        .store
        .list_connections(&org.id)
        .await?
        .iter()
        .filter(|c| c.status == "active")
        .count();
    let has_s2s = app.store.s2s(&org.id).await?.is_some();
    let has_jwt = app.store.jwt(&org.id).await?.is_some();
    let cutoff = app.config.jwt_cutoff.unix_timestamp();
    let now = app.clock.now();
    let state = if active_connections > 0 {
        MigrationState::Oauth
    } else if has_s2s {
        MigrationState::S2s
    } else if has_jwt && now < cutoff {
        MigrationState::JwtOnly
    } else if has_jwt {
        MigrationState::JwtExpired
    } else {
        MigrationState::None
    };
    Ok(MigrationStatus {
        state,
        jwt_cutoff: rfc3339(cutoff),
        days_left: (cutoff - now).div_euclid(86_400),
        has_jwt,
        has_s2s,
        active_connections,
    })
}

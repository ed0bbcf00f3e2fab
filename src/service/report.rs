//! Where orgs stand in their move off the JWT app type.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, ConnectionStatus};
use crate::store::Org;

use super::ServiceResult;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ToSchema)]
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

impl MigrationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oauth => "oauth",
            Self::S2s => "s2s",
            Self::JwtOnly => "jwt_only",
            Self::JwtExpired => "jwt_expired",
            Self::None => "none",
        }
    }
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

pub async fn migration_status(app: &AppState, org: &Org) -> ServiceResult<MigrationStatus> {
    // A grouped count, not the list: an org may hold a million connections.
    let active_connections = app
        .store
        .connection_counts(&org.id)
        .await?
        .into_iter()
        .find(|(status, _)| *status == ConnectionStatus::Active)
        .map_or(0, |(_, n)| n as usize);
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

/// How many orgs are in each state.
#[derive(Serialize, Default, ToSchema)]
pub struct Totals {
    pub oauth: usize,
    pub s2s: usize,
    pub jwt_only: usize,
    pub jwt_expired: usize,
    pub none: usize,
}

#[derive(Serialize, Clone, ToSchema)]
#[schema(as = ReportOrg)]
pub struct OrgLine {
    pub slug: String,
    pub name: String,
    pub state: MigrationState,
    /// Emails of the org's console admins, to chase before the cutoff.
    pub admin_emails: Vec<String>,
    /// Whole days until the JWT cutoff; negative once it has passed.
    pub days_left: i64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MigrationReport)]
pub struct Report {
    #[schema(format = DateTime)]
    pub generated_at: String,
    #[schema(format = DateTime)]
    pub jwt_cutoff: String,
    pub totals: Totals,
    /// Orgs that still depend on the legacy JWT key, most urgent first.
    pub jwt_only_orgs: Vec<OrgLine>,
    pub orgs: Vec<OrgLine>,
}

/// Every org's state, for operators planning the migration.
pub async fn migration_report(app: &AppState) -> ServiceResult<Report> {
    let mut totals = Totals::default();
    let mut orgs = Vec::new();
    for org in app.store.list_orgs().await? {
        let status = migration_status(app, &org).await?;
        match status.state {
            MigrationState::Oauth => totals.oauth += 1,
            MigrationState::S2s => totals.s2s += 1,
            MigrationState::JwtOnly => totals.jwt_only += 1,
            MigrationState::JwtExpired => totals.jwt_expired += 1,
            MigrationState::None => totals.none += 1,
        }
        orgs.push(OrgLine {
            admin_emails: app.store.admin_emails(&org.id).await?,
            slug: org.slug,
            name: org.name,
            state: status.state,
            days_left: status.days_left,
        });
    }
    let mut jwt_only_orgs: Vec<OrgLine> = orgs
        .iter()
        .filter(|o| {
            matches!(
                o.state,
                MigrationState::JwtOnly | MigrationState::JwtExpired
            )
        })
        .cloned()
        .collect();
    jwt_only_orgs.sort_by_key(|o| o.days_left);
    Ok(Report {
        generated_at: rfc3339(app.clock.now()),
        jwt_cutoff: rfc3339(app.config.jwt_cutoff.unix_timestamp()),
        totals,
        jwt_only_orgs,
        orgs,
    })
}

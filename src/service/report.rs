//! Where orgs stand in their move off the JWT app type.

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, AccountStatus, AuthType, ConnectionStatus};
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
    /// How many S2S and JWT account entries (one per Zoom account email) the org holds.
    pub s2s_accounts: usize,
    pub jwt_accounts: usize,
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
    let s2s_accounts = app.store.s2s_entries(&org.id).await?.len();
    let jwt_accounts = app.store.jwt_entries(&org.id).await?.len();
    let (has_s2s, has_jwt) = (s2s_accounts > 0, jwt_accounts > 0);
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
        s2s_accounts,
        jwt_accounts,
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

/// How many account entries (S2S and JWT, one per Zoom account email) are
/// in each state, over every org.
#[derive(Serialize, Default, ToSchema)]
pub struct AccountTotals {
    pub s2s: usize,
    /// JWT entries before the cutoff.
    pub jwt_expiring: usize,
    /// JWT entries after the cutoff: Zoom refuses them.
    pub jwt_expired: usize,
}

/// One account entry of one org.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportAccount)]
pub struct AccountLine {
    pub org: String,
    /// The entry's Zoom account email; null for an org-wide JWT entry.
    pub email: Option<String>,
    pub auth_type: AuthType,
    pub status: AccountStatus,
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
    pub account_totals: AccountTotals,
    /// Every S2S and JWT account entry, by org, JWT entries first.
    pub accounts: Vec<AccountLine>,
}

/// Every org's state, for operators planning the migration.
pub async fn migration_report(app: &AppState) -> ServiceResult<Report> {
    let mut totals = Totals::default();
    let mut orgs = Vec::new();
    let mut account_totals = AccountTotals::default();
    let mut accounts = Vec::new();
    for org in app.store.list_orgs().await? {
        account_lines(app, &org, &mut account_totals, &mut accounts).await?;
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
        account_totals,
        accounts,
    })
}

async fn account_lines(
    app: &AppState,
    org: &Org,
    totals: &mut AccountTotals,
    lines: &mut Vec<AccountLine>,
) -> ServiceResult<()> {
    for jwt in super::accounts::jwt_accounts(app, org).await? {
        match jwt.status {
            AccountStatus::JwtExpired => totals.jwt_expired += 1,
            _ => totals.jwt_expiring += 1,
        }
        lines.push(AccountLine {
            org: org.slug.clone(),
            email: jwt.email,
            auth_type: AuthType::Jwt,
            status: jwt.status,
        });
    }
    for s2s in super::accounts::s2s_accounts(app, org).await? {
        totals.s2s += 1;
        lines.push(AccountLine {
            org: org.slug.clone(),
            email: Some(s2s.email),
            auth_type: AuthType::S2s,
            status: s2s.status,
        });
    }
    Ok(())
}

//! `GET /api/v1/migration-report` (all-orgs keys only): where every org
//! stands in the move off JWT. `?format=csv` for a spreadsheet.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::admin::status::{migration_status, MigrationState};
use crate::app::{rfc3339, AppState};
use crate::error::{ApiError, ApiResult};

use super::Caller;

#[derive(Deserialize)]
pub struct Format {
    format: Option<String>,
}

#[derive(Serialize, Default)]
pub struct Totals {
    oauth: usize,
    s2s: usize,
    jwt_only: usize,
    jwt_expired: usize,
    none: usize,
}

#[derive(Serialize, Clone)]
pub struct OrgLine {
    slug: String,
    name: String,
    state: MigrationState,
    admin_emails: Vec<String>,
    days_left: i64,
}

#[derive(Serialize)]
pub struct Report {
    generated_at: String,
    jwt_cutoff: String,
    totals: Totals,
    /// Orgs that still depend on the legacy JWT key, most urgent first.
    jwt_only_orgs: Vec<OrgLine>,
    orgs: Vec<OrgLine>,
}

pub async fn report(
    State(app): State<AppState>,
    caller: Caller,
    Query(format): Query<Format>,
) -> ApiResult<Response> {
    if caller.org_scope.is_some() {
        return Err(ApiError::Forbidden(
            "the migration report needs an all-orgs API key".into(),
        ));
    }
    let mut totals = Totals::default();
    let mut orgs = Vec::new();
    for org in app.store.list_orgs().await? {
        let status = migration_status(&app, &org).await?;
        match status.state {
            MigrationState::Oauth => totals.oauth += 1,
            MigrationState::S2s => totals.s2s += 1,
            MigrationState::JwtOnly => totals.jwt_only += 1,
            MigrationState::JwtExpired => totals.jwt_expired += 1,
            MigrationState::None => totals.none += 1,
        }
        let admin_emails = app.store.admin_emails(&org.id).await?;
        orgs.push(OrgLine {
            slug: org.slug,
            name: org.name,
            state: status.state,
            admin_emails,
            days_left: status.days_left,
        });
    }
    if format.format.as_deref() == Some("csv") {
        return Ok(csv(&orgs).into_response());
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
    Ok(Json(Report {
        generated_at: rfc3339(app.clock.now()),
        jwt_cutoff: rfc3339(app.config.jwt_cutoff.unix_timestamp()),
        totals,
        jwt_only_orgs,
        orgs,
    })
    .into_response())
}

fn csv(orgs: &[OrgLine]) -> impl IntoResponse {
    // Quote every field; a leading =,+,-,@ is neutralised against spreadsheet formula injection.
    let field = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@']) {
            format!("'{s}")
        } else {
            s.to_string()
        };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    let mut out = String::from("org,name,state,admin_emails,days_left\n");
    for o in orgs {
        let state = serde_json::to_value(o.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            field(&o.slug),
            field(&o.name),
            field(&state),
            field(&o.admin_emails.join(" ")),
            o.days_left
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"migration-report.csv\"",
            ),
        ],
        out,
    )
}

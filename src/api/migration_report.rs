//! `GET /api/v1/migration-report` (all-orgs keys only): where every org
//! stands in the move off JWT. `?format=csv` for a spreadsheet.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::service::report::{migration_report, OrgLine, Report};
use crate::web::ApiQuery;

use super::responses::Always;
use super::Caller;
use crate::domain::Scope;

/// An unknown format is `400 invalid_query`, never a silent JSON answer.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ReportFormat)]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `csv` answers `text/csv` with the columns org,name,state,admin_emails,days_left.
    #[serde(default)]
    #[param(inline)]
    format: Format,
}

/// Where every org stands in the move off JWT
///
/// All-orgs API keys only. Totals of orgs on OAuth, S2S, JWT only, JWT
/// expired or nothing, and the JWT-only orgs (most urgent first) with their
/// admins' emails and days left; also every S2S and JWT account entry
/// (one per Zoom account email) with its status, and their totals.
#[utoipa::path(
    get,
    path = "/api/v1/migration-report",
    operation_id = "migration_report",
    tag = "admin",
    params(FormatQuery),
    responses(
        (status = 200, description = "The report.", content(
            (Report = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, body = ErrorBody, description = "`invalid_query`: e.g. an unknown `format`."),
        Always,
    )
)]
pub async fn report(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
    caller.require(Scope::Admin)?;
    caller.require_all_orgs("the migration report")?;
    let report = migration_report(&app).await?;
    Ok(match query.format {
        Format::Csv => csv(&report.orgs).into_response(),
        Format::Json => Json(report).into_response(),
    })
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
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            field(&o.slug),
            field(&o.name),
            field(o.state.as_str()),
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

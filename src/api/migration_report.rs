//! `GET /api/v1/migration-report` (all-orgs keys only): where every org
//! stands in the move off JWT. `?format=csv` for a spreadsheet.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::report::{migration_report, OrgLine};
use crate::web::ApiQuery;

use super::Caller;

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: Format,
}

pub async fn report(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> ApiResult<Response> {
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

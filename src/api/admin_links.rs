//! `POST /api/v1/orgs/{org}/admin-links`: the CRM mints a console sign-in link.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, Email};
use crate::error::{ApiResult, ErrorBody};
use crate::service::admin;
use crate::web::{invalid, ApiJson, ApiPath};

use super::responses::{Always, BodyErrors};
use super::Caller;
use crate::domain::Scope;

#[derive(Deserialize, ToSchema)]
#[schema(as = NewAdminLink)]
pub struct NewLink {
    /// The admin's email; the console shows it and audits as `admin:<email>`.
    #[schema(value_type = Email)]
    email: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = AdminLink)]
pub struct Link {
    /// A one-time sign-in URL for the admin's browser.
    #[schema(format = Uri)]
    url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Mint a one-time admin console sign-in link
///
/// The link is valid for 10 minutes and works once. It opens an 8-hour
/// console session for that org only.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{org}/admin-links",
    operation_id = "create_admin_link",
    tag = "admin",
    params(("org" = String, Path, description = "The org's slug.")),
    request_body = NewLink,
    responses(
        (status = 201, description = "Created.", body = Link),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_email` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
        BodyErrors,
    )
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiJson(body): ApiJson<NewLink>,
) -> ApiResult<(StatusCode, Json<Link>)> {
    caller.require(Scope::Admin)?;
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&body.email).map_err(invalid("invalid_email"))?;
    let link = admin::issue_link(&app, &org, &email, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Link {
            url: link.url,
            expires_at: rfc3339(link.expires_at),
        }),
    ))
}

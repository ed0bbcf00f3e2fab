//! `POST /api/v1/orgs/{org}/admin-links`: the CRM mints a console sign-in link.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::{rfc3339, Email};
use crate::error::ApiResult;
use crate::service::admin;
use crate::web::{invalid, ApiJson};

use super::Caller;

#[derive(Deserialize)]
pub struct NewLink {
    email: String,
}

#[derive(Serialize)]
pub struct Link {
    url: String,
    expires_at: String,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewLink>,
) -> ApiResult<(StatusCode, Json<Link>)> {
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

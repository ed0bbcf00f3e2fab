//! `POST /api/v1/orgs/{org}/admin-links`: the CRM mints a console sign-in link.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::admin::session::issue_link;
use crate::app::{rfc3339, AppState};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};

use super::{ApiJson, Caller};

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
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    let (url, expires_at) = issue_link(&app, &org, &email, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Link {
            url,
            expires_at: rfc3339(expires_at),
        }),
    ))
}

//! `GET /api/v1/orgs/{org}/users/{email}/token`: the broker's core promise.

use axum::extract::{Path, State};
use axum::Json;

use crate::app::AppState;
use crate::domain::Email;
use crate::error::ApiResult;
use crate::service::tokens::token_for;
use crate::tokens::ResolvedToken;
use crate::web::invalid;

use super::Caller;

pub async fn get_token(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, email)): Path<(String, String)>,
) -> ApiResult<Json<ResolvedToken>> {
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    Ok(Json(token_for(&app, &org, &email).await?))
}

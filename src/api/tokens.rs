use axum::extract::{Path, State};
use axum::Json;

use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::tokens::{resolve, ResolvedToken};

use super::Caller;

/// `GET /api/v1/orgs/{org}/users/{email}/token`
pub async fn get_token(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, email)): Path<(String, String)>,
) -> ApiResult<Json<ResolvedToken>> {
    let org = caller.org(&app, &org).await?;
    let email =
        Email::parse(&email).map_err(|e| ApiError::bad_request("invalid_email", e.to_string()))?;
    Ok(Json(resolve(&app, &org, &email).await?))
}

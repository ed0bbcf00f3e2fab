//! `GET /api/v1/orgs/{org}/users/{email}/token`: the broker's core promise.

use axum::extract::State;
use axum::Json;

use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiResult, ErrorBody};
use crate::service::tokens::token_for;
use crate::tokens::ResolvedToken;
use crate::web::{invalid, ApiPath};

use super::responses::Always;
use super::Caller;

/// Get a live Zoom token for a user
///
/// Sources, in order: the user's own user-managed OAuth connection, the
/// org's account-level connection, the org's Server-to-Server credentials,
/// the legacy JWT key (before `TOKENBROKER_JWT_CUTOFF`). A token expiring
/// within `TOKENBROKER_REFRESH_AHEAD_SECS` is refreshed first, exactly once
/// across callers and replicas.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/users/{email}/token",
    operation_id = "get_token",
    tag = "tokens",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("email" = Email, Path, description = "The CRM user's email."),
    ),
    responses(
        (status = 200, description = "A token that is valid now.", body = ResolvedToken),
        (status = 400, body = ErrorBody, description = "`invalid_email`, or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_connected`: no connection, \
            S2S credentials or JWT key serves this user; or `not_found` for the org."),
        (status = 409, body = ErrorBody, description = "`reauthorization_required`: Zoom \
            rejected the grant; the user must authorize again."),
        (status = 410, body = ErrorBody, description = "`jwt_cutoff_passed`: only a legacy \
            JWT key exists and its cutoff has passed."),
        (status = 503, body = ErrorBody, description = "`upstream_unavailable`: Zoom is down \
            or slow and no stored token is still valid. Stored tokens are untouched.",
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
        Always,
    )
)]
pub async fn get_token(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((org, email)): ApiPath<(String, String)>,
) -> ApiResult<Json<ResolvedToken>> {
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    Ok(Json(token_for(&app, &org, &email).await?))
}

//! `GET /api/v1/orgs/{org}/users/{email}/token`: the broker's core promise.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::domain::Email;
use crate::error::{ApiResult, ErrorBody};
use crate::service::tokens::{parse_min_valid_secs, token_for_at_least, MAX_MIN_VALID_SECS};
use crate::tokens::ResolvedToken;
use crate::web::{invalid, ApiPath, ApiQuery};

use super::responses::Always;
use super::Caller;
use crate::domain::Scope;

/// Get a live Zoom token for a user
///
/// Sources, in order: the user's own user-managed OAuth connection, the
/// org's account-level connection, the org's Server-to-Server credentials,
/// the legacy JWT key (before `TOKENBROKER_JWT_CUTOFF`). A token expiring
/// within `TOKENBROKER_REFRESH_AHEAD_SECS`, or within `min_valid_secs` if
/// that is longer, is refreshed first, exactly once across callers and
/// replicas. `warnings` says why earlier sources were skipped. Needs the
/// `tokens:read` scope.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/users/{email}/token",
    operation_id = "get_token",
    tag = "tokens",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("email" = Email, Path, description = "The CRM user's email."),
        TokenParams,
    ),
    responses(
        (status = 200, description = "A token that is valid now.", body = ResolvedToken),
        (status = 400, body = ErrorBody, description = "`invalid_email`, `invalid_path`, \
            `invalid_query`, or `invalid_min_valid_secs`: not an integer from 0 to 3600, \
            or more than the source grants (a fresh token's whole lifetime)."),
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
    ApiQuery(params): ApiQuery<TokenParams>,
) -> ApiResult<Response> {
    caller.require(Scope::TokensRead)?;
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    let min_valid = parse_min_valid_secs(params.min_valid_secs.as_deref())?;
    let token = token_for_at_least(&app, &org, &email, min_valid).await?;
    // Serialized once per cached token, then shared.
    Ok(([(CONTENT_TYPE, "application/json")], token.json()).into_response())
}

/// `GET …/token` query parameters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParams {
    /// The token handed out stays valid at least this many more seconds; it
    /// is refreshed first if needed. At most the lifetime the source grants
    /// (Zoom: 3600 s), else `400 invalid_min_valid_secs`.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 3600)]
    pub min_valid_secs: Option<String>,
}

const _: () = assert!(MAX_MIN_VALID_SECS == 3600);

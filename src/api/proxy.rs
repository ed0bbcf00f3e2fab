//! The Zoom API proxy: `…/users/{email}/zoom/{path}` and `…/zoom/{path}`,
//! any method. Parsing happens here (the raw path, the broker's own
//! headers, the body: held or streamed); the use case is `service::proxy`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;

use crate::app::AppState;
use crate::domain::{Email, Scope};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::service::proxy::{self, AnswerBody, ProxyCall};
use crate::service::tokens::parse_min_valid_secs;
use crate::web::{invalid, ApiPath};
use crate::zoom::path::ZoomPath;
use crate::zoom::proxy::OutBody;

use super::responses::Always;
use super::Caller;

/// Writes one documented handler per method for the user route: OpenAPI
/// wants an operation id per method, and axum then routes exactly those.
macro_rules! user_route {
    ($name:ident, $method:tt, $id:tt) => {
        /// Call Zoom's API as a user
        ///
        /// Sends the call to `ZOOM_API_URL/{path}` with the token the token API
        /// would hand out for `email` (same sources, same errors), keeping the
        /// user's Zoom account within its rate limits across every replica.
        /// Query string, body and headers pass through (never the caller's
        /// `Authorization`, cookies or hop-by-hop headers); Zoom's status, body
        /// and headers come back, streamed both ways; redirects are passed back,
        /// never followed. A `401` for the access token replaces the token once
        /// (one refresh for all callers) and sends the call again if its body
        /// was held (`Content-Length` up to `TOKENBROKER_PROXY_BUFFER_BYTES`,
        /// 1 MiB by default). Answers carry `X-Tokenbroker-Auth-Type` and
        /// `X-Tokenbroker-Rate-Category`. Needs the `zoom:proxy` scope.
        #[utoipa::path(
            $method,
            path = "/api/v1/orgs/{org}/users/{email}/zoom/{*path}",
            operation_id = $id,
            tag = "zoom",
            params(
                ("org" = String, Path, description = "The org's slug."),
                ("email" = Email, Path, description = "The CRM user's email."),
                ("path" = String, Path, description = "The Zoom API path under `ZOOM_API_URL`, \
                    with its slashes (`users/me/meetings`), sent on as it is. Refused with \
                    `400 invalid_zoom_path`: dot segments (plain or `%2e`), encoded slashes or \
                    backslashes, empty segments, `@` (send `%40`), a scheme, control characters."),
                ProxyHeaders,
            ),
            request_body(content = Vec<u8>, content_type = "application/octet-stream",
                description = "Passed to Zoom unchanged, whatever its type (streamed when large)."),
            responses(
                (status = 200, description = "Zoom's answer, whatever its status: body, status \
                    and headers as Zoom sent them.", content_type = "application/octet-stream",
                    body = Vec<u8>),
                (status = 400, body = ErrorBody, description = "`invalid_zoom_path`, \
                    `invalid_path`, `invalid_email`, `invalid_min_valid_secs`, \
                    `invalid_deadline`, `invalid_header`."),
                (status = 404, body = ErrorBody, description = "`not_connected` or `not_found`, \
                    as the token API."),
                (status = 409, body = ErrorBody, description = "`reauthorization_required`: as \
                    the token API, or Zoom refused the access token again after it was replaced."),
                (status = 410, body = ErrorBody, description = "`jwt_cutoff_passed`, as the token API."),
                (status = 429, body = ErrorBody, description = "`rate_limited`: the Zoom \
                    account's budget for this call's rate category is spent, or Zoom asked for a \
                    pause; nothing was sent. (A 429 from Zoom itself is passed back with Zoom's \
                    body and `Retry-After`.)",
                    headers(("Retry-After" = u64, description = "Seconds until the budget allows the call."))),
                (status = 503, body = ErrorBody, description = "`upstream_unavailable`: Zoom \
                    could not be reached or did not answer; or `database_unavailable`.",
                    headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
                Always,
            )
        )]
        pub async fn $name(
            State(app): State<AppState>,
            caller: Caller,
            ApiPath((org, email, _)): ApiPath<(String, String, String)>,
            request: Request,
        ) -> ApiResult<Response> {
            as_user(app, caller, org, email, request).await
        }
    };
}

/// As `user_route!`, for the org route.
macro_rules! org_route {
    ($name:ident, $method:tt, $id:tt) => {
        /// Call Zoom's API as the org
        ///
        /// As the user route, with the org's own account-level token: its
        /// account-level (admin-managed) connection, then its Server-to-Server
        /// credentials (the first entry), then the legacy JWT key before the
        /// cutoff. Needs the `zoom:proxy` scope.
        #[utoipa::path(
            $method,
            path = "/api/v1/orgs/{org}/zoom/{*path}",
            operation_id = $id,
            tag = "zoom",
            params(
                ("org" = String, Path, description = "The org's slug."),
                ("path" = String, Path, description = "The Zoom API path under \
                    `ZOOM_API_URL`, as on the user route."),
                ProxyHeaders,
            ),
            request_body(content = Vec<u8>, content_type = "application/octet-stream",
                description = "Passed to Zoom unchanged (streamed when large)."),
            responses(
                (status = 200, description = "Zoom's answer, whatever its status.",
                    content_type = "application/octet-stream", body = Vec<u8>),
                (status = 400, body = ErrorBody, description = "`invalid_zoom_path`, \
                    `invalid_path`, `invalid_min_valid_secs`, `invalid_deadline`, `invalid_header`."),
                (status = 404, body = ErrorBody, description = "`not_connected`: no \
                    account-level connection, S2S credentials or JWT key; or `not_found`."),
                (status = 409, body = ErrorBody, description = "`reauthorization_required`."),
                (status = 410, body = ErrorBody, description = "`jwt_cutoff_passed`."),
                (status = 429, body = ErrorBody, description = "`rate_limited`, as on the user route.",
                    headers(("Retry-After" = u64, description = "Seconds until the budget allows the call."))),
                (status = 503, body = ErrorBody, description = "`upstream_unavailable` or \
                    `database_unavailable`.",
                    headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
                Always,
            )
        )]
        pub async fn $name(
            State(app): State<AppState>,
            caller: Caller,
            ApiPath((org, _)): ApiPath<(String, String)>,
            request: Request,
        ) -> ApiResult<Response> {
            as_org(app, caller, org, request).await
        }
    };
}

user_route!(user_get, get, "proxy_as_user_get");
user_route!(user_post, post, "proxy_as_user_post");
user_route!(user_put, put, "proxy_as_user_put");
user_route!(user_patch, patch, "proxy_as_user_patch");
user_route!(user_delete, delete, "proxy_as_user_delete");
org_route!(org_get, get, "proxy_as_org_get");
org_route!(org_post, post, "proxy_as_org_post");
org_route!(org_put, put, "proxy_as_org_put");
org_route!(org_patch, patch, "proxy_as_org_patch");
org_route!(org_delete, delete, "proxy_as_org_delete");

async fn as_user(
    app: AppState,
    caller: Caller,
    org: String,
    email: String,
    request: Request,
) -> ApiResult<Response> {
    caller.require(Scope::ZoomProxy)?;
    let org = caller.org(&app, &org).await?;
    let email = Email::parse(&email).map_err(invalid("invalid_email"))?;
    // The Zoom path as sent, still encoded: `/api/v1/orgs/o/users/e/zoom/{path}`.
    let raw = request.uri().path().to_string();
    let call = parse_call(&app, raw.splitn(9, '/').nth(8), request).await?;
    let answer = proxy::call(&app, &org, Some(&email), call).await?;
    Ok(respond(answer))
}

async fn as_org(
    app: AppState,
    caller: Caller,
    org: String,
    request: Request,
) -> ApiResult<Response> {
    caller.require(Scope::ZoomProxy)?;
    let org = caller.org(&app, &org).await?;
    let raw = request.uri().path().to_string();
    let call = parse_call(&app, raw.splitn(7, '/').nth(6), request).await?;
    let answer = proxy::call(&app, &org, None, call).await?;
    Ok(respond(answer))
}

/// The broker's own request headers on a proxied call.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct ProxyHeaders {
    /// Milliseconds the caller waits in all (at most
    /// `TOKENBROKER_PROXY_MAX_DEADLINE_MS`). With it, a call over budget
    /// waits for the budget, and `GET`, `HEAD` or a call with an
    /// `Idempotency-Key` is retried on `429`, `5xx` or no answer, with
    /// jittered backoff, while time is left. Without it, nothing waits.
    #[param(rename = "X-Tokenbroker-Deadline-Ms", minimum = 1)]
    deadline_ms: Option<u64>,
    /// As `min_valid_secs` on the token API.
    #[param(rename = "X-Tokenbroker-Min-Valid-Secs", minimum = 0, maximum = 3600)]
    min_valid_secs: Option<u64>,
}

async fn parse_call(app: &AppState, rest: Option<&str>, request: Request) -> ApiResult<ProxyCall> {
    let path = ZoomPath::parse(rest.unwrap_or_default()).map_err(invalid("invalid_zoom_path"))?;
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let min_valid =
        parse_min_valid_secs(own_header(&headers, "x-tokenbroker-min-valid-secs")?.as_deref())?;
    let deadline = match own_header(&headers, "x-tokenbroker-deadline-ms")? {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(std::time::Duration::from_millis(ms)),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_deadline",
                    "X-Tokenbroker-Deadline-Ms is a whole number of milliseconds above 0",
                ))
            }
        },
    };
    let length = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = headers.contains_key("transfer-encoding");
    let body = match (length, chunked) {
        (Some(0), false) | (None, false) => OutBody::Empty,
        (Some(n), false) if n <= app.config.proxy.buffer_bytes => {
            let bytes = axum::body::to_bytes(body, n as usize).await.map_err(|_| {
                ApiError::bad_request("invalid_body", "the body ended before its Content-Length")
            })?;
            OutBody::Buffered(bytes)
        }
        _ => OutBody::Streamed(reqwest::Body::wrap_stream(
            body.into_data_stream().map_err(std::io::Error::other),
        )),
    };
    Ok(ProxyCall {
        method: parts.method,
        path,
        query: parts.uri.query().map(str::to_string),
        headers,
        body,
        deadline,
        min_valid,
    })
}

fn own_header(headers: &HeaderMap, name: &str) -> ApiResult<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_string()))
            .map_err(|_| ApiError::bad_request("invalid_header", format!("{name} is not text"))),
    }
}

fn respond(answer: proxy::ProxyAnswer) -> Response {
    let body = match answer.body {
        AnswerBody::Held(bytes) => Body::from(bytes),
        AnswerBody::Streamed(response) => Body::from_stream(response.bytes_stream()),
    };
    let mut response = (answer.status, body).into_response();
    *response.headers_mut() = answer.headers;
    response
}

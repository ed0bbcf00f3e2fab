//! The Zoom API proxy's use case (issue 21): a call to Zoom as a user (or
//! as the org), signed with the token the token API would hand out, inside
//! the Zoom account's rate budget, recovering once from a refused token.
//!
//! Retry rules:
//! - a `401` for the access token: the token is replaced (one refresh
//!   however many calls saw it) and the call is sent once more, if its body
//!   was held; a streamed body cannot be sent again, so that call is
//!   answered `503` and the next one has the new token;
//! - `429` and `5xx` from Zoom, and Zoom not answering: only `GET`, `HEAD`
//!   and calls with an `Idempotency-Key`, only with a held body, and only
//!   while the caller's `X-Tokenbroker-Deadline-Ms` leaves time, with
//!   jittered backoff (or Zoom's `Retry-After`);
//! - over the broker's budget: the call waits for the next window if the
//!   deadline allows, else `429 rate_limited`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use tracing::Instrument;

use crate::app::AppState;
use crate::domain::{Email, RateCategory};
use crate::ratelimit::budget::now_ms;
use crate::ratelimit::metrics::ProxyOutcome;
use crate::ratelimit::{buckets_for, classify, limit_hit, rate_bucket};
use crate::store::Org;
use crate::tokens::{replace_refused, ResolvedToken, TokenError};
use crate::zoom::path::ZoomPath;
use crate::zoom::proxy::{forwarded_headers, returned_headers, OutBody};

mod pacing;

use pacing::{backoff, fits, hold, remaining, secs_up, within_budget};

use super::tokens::token_as;
use super::{ServiceError, ServiceResult};

/// One proxied call, parsed at the edge.
pub struct ProxyCall {
    pub method: Method,
    pub path: ZoomPath,
    pub query: Option<String>,
    /// The caller's headers, as sent; filtered here.
    pub headers: HeaderMap,
    pub body: OutBody,
    /// `X-Tokenbroker-Deadline-Ms`: how long the caller waits in all.
    pub deadline: Option<Duration>,
    /// `X-Tokenbroker-Min-Valid-Secs`, as on the token API.
    pub min_valid: u64,
}

/// Zoom's answer, on its way back.
pub struct ProxyAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: AnswerBody,
}

pub enum AnswerBody {
    /// Read already (a `401` had to be looked at).
    Held(Bytes),
    /// Streamed on as Zoom sends it.
    Streamed(reqwest::Response),
}

/// Zoom waits this long for the answer's headers unless the caller's deadline is shorter.
const HEADERS_WAIT: Duration = Duration::from_secs(30);
/// Sends of one call at most (the first, a replaced token, retries).
const MAX_SENDS: u32 = 4;

/// Calls Zoom as `email` (the token API's resolution), or as the org.
pub async fn call(
    app: &AppState,
    org: &Org,
    email: Option<&Email>,
    call: ProxyCall,
) -> ServiceResult<ProxyAnswer> {
    let classified = classify(call.method.as_str(), &format!("/{}", call.path.as_str()));
    let span = tracing::info_span!(
        "zoom.proxy",
        org = %org.slug,
        zoom_account = tracing::field::Empty,
        category = %classified.category,
        endpoint = classified.pattern,
        method = %call.method,
        status = tracing::field::Empty,
        upstream_ms = tracing::field::Empty,
        sends = tracing::field::Empty,
    );
    let category = classified.category;
    let result = run(app, org, email, call, category).instrument(span).await;
    if let Err(err) = &result {
        app.metrics.proxy.call(Some(category), outcome_of(err));
    }
    result
}

fn outcome_of(err: &ServiceError) -> ProxyOutcome {
    match err {
        ServiceError::RateLimited { .. } => ProxyOutcome::BrokerRateLimited,
        ServiceError::Unavailable { .. } => ProxyOutcome::Unreachable,
        ServiceError::Invalid { .. } => ProxyOutcome::RefusedPath,
        _ => ProxyOutcome::NoToken,
    }
}

async fn run(
    app: &AppState,
    org: &Org,
    email: Option<&Email>,
    call: ProxyCall,
    category: RateCategory,
) -> ServiceResult<ProxyAnswer> {
    let started = Instant::now();
    let deadline = call
        .deadline
        .map(|d| started + d.min(app.config.proxy.max_deadline));
    let url = app
        .proxy
        .target(&call.path, call.query.as_deref())
        .ok_or_else(|| {
            ServiceError::invalid("invalid_zoom_path", "the query string is not a valid one")
        })?;
    let mut token = token_as(app, org, email, call.min_valid).await?;
    let span = tracing::Span::current();
    span.record("zoom_account", token.zoom_account.as_str());
    let limits = app.config.proxy.rate_limits.for_org(&org.slug);
    let specs = buckets_for(&token.zoom_account, category, limits);

    let streamed = matches!(call.body, OutBody::Streamed(_));
    let forwarded = forwarded_headers(&call.headers, streamed);
    let idempotent = matches!(call.method, Method::GET | Method::HEAD)
        || call.headers.contains_key("idempotency-key");
    let may_retry = idempotent && !streamed;
    let mut body = Some(call.body);
    let mut replaced = false;
    let mut sends = 0u32;
    loop {
        within_budget(app, &specs, deadline).await?;
        let out = match body.take() {
            Some(OutBody::Buffered(bytes)) => {
                body = Some(OutBody::Buffered(bytes.clone()));
                OutBody::Buffered(bytes)
            }
            Some(OutBody::Empty) => {
                body = Some(OutBody::Empty);
                OutBody::Empty
            }
            Some(streamed) => streamed,
            None => return Err(resend_impossible()),
        };
        sends += 1;
        span.record("sends", sends);
        let wait = remaining(deadline)
            .unwrap_or(HEADERS_WAIT)
            .min(HEADERS_WAIT);
        let sent_at = Instant::now();
        let send = app.proxy.send(
            call.method.clone(),
            url.clone(),
            forwarded.clone(),
            out,
            &token.access_token,
        );
        let upstream =
            tracing::info_span!("zoom.api", category = %category, status = tracing::field::Empty);
        let answer = tokio::time::timeout(wait, send)
            .instrument(upstream.clone())
            .await;
        app.metrics.proxy.upstream(category, sent_at.elapsed());
        span.record("upstream_ms", sent_at.elapsed().as_millis() as u64);
        let response = match answer {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => {
                let detail = format!("Zoom could not be reached: {}", describe(&err));
                if may_retry && sends < MAX_SENDS && backoff(deadline, sends).await {
                    continue;
                }
                return Err(unavailable(detail));
            }
            Err(_) => {
                if may_retry && sends < MAX_SENDS && backoff(deadline, sends).await {
                    continue;
                }
                return Err(unavailable("Zoom did not answer in time".into()));
            }
        };
        let status = response.status();
        upstream.record("status", status.as_u16());
        span.record("status", status.as_u16());

        if status == StatusCode::UNAUTHORIZED {
            let headers = response.headers().clone();
            let held = response.bytes().await.unwrap_or_default();
            if !refuses_token(&held) {
                return Ok(answered(
                    app,
                    category,
                    status,
                    &headers,
                    AnswerBody::Held(held),
                    &token,
                ));
            }
            if replaced || token.origin.is_none() {
                return Err(ServiceError::Token(TokenError::Reauth(
                    "Zoom refused the access token even after it was replaced; the user must authorize again".into(),
                )));
            }
            let refused = token.origin.clone().expect("checked above");
            let fresh = replace_refused(app, &refused).await?;
            tracing::info!(sends, "Zoom refused the access token; replaced it");
            app.metrics
                .proxy
                .call(Some(category), ProxyOutcome::TokenReplaced);
            // Copy-on-write: the cached token others share is left alone.
            let mine = Arc::make_mut(&mut token);
            mine.access_token = fresh.access_token;
            mine.origin = fresh.origin;
            mine.changed();
            replaced = true;
            if body.is_none() {
                return Err(resend_impossible());
            }
            continue;
        }

        if status == StatusCode::TOO_MANY_REQUESTS {
            let hit = limit_hit(response.headers(), now_ms());
            let bucket = rate_bucket(&token.zoom_account, hit.category.unwrap_or(category));
            hold(app, &bucket, hit.until_ms, hit.daily).await;
            app.metrics
                .proxy
                .call(Some(category), ProxyOutcome::ZoomRateLimited);
            let pause = Duration::from_millis((hit.until_ms - now_ms()).max(0) as u64);
            if may_retry && sends < MAX_SENDS && fits(deadline, pause) {
                tokio::time::sleep(pause).await;
                continue;
            }
            let mut headers = returned_headers(response.headers());
            if !headers.contains_key(RETRY_AFTER) {
                headers.insert(RETRY_AFTER, HeaderValue::from(secs_up(pause)));
            }
            return Ok(with_own(
                headers,
                status,
                AnswerBody::Streamed(response),
                &token,
                category,
            ));
        }

        if status.is_server_error()
            && may_retry
            && sends < MAX_SENDS
            && backoff(deadline, sends).await
        {
            continue;
        }
        let headers = response.headers().clone();
        return Ok(answered(
            app,
            category,
            status,
            &headers,
            AnswerBody::Streamed(response),
            &token,
        ));
    }
}

fn answered(
    app: &AppState,
    category: RateCategory,
    status: StatusCode,
    headers: &HeaderMap,
    body: AnswerBody,
    token: &ResolvedToken,
) -> ProxyAnswer {
    app.metrics
        .proxy
        .call(Some(category), ProxyOutcome::Answered);
    tracing::debug!(status = status.as_u16(), "Zoom answered");
    with_own(returned_headers(headers), status, body, token, category)
}

/// Zoom's answer with the broker's own headers, which say what it did.
fn with_own(
    mut headers: HeaderMap,
    status: StatusCode,
    body: AnswerBody,
    token: &ResolvedToken,
    category: RateCategory,
) -> ProxyAnswer {
    headers.insert(
        "x-tokenbroker-auth-type",
        HeaderValue::from_static(token.auth_type.as_str()),
    );
    headers.insert(
        "x-tokenbroker-rate-category",
        HeaderValue::from_static(category.as_str()),
    );
    ProxyAnswer {
        status,
        headers,
        body,
    }
}

/// Zoom's answer to a bad access token: `{"code": 124, "message": "Invalid
/// access token."}` (or "Access token is expired."). Other `401`s (a
/// missing scope on some endpoints) are the caller's to see.
fn refuses_token(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let code = value.get("code").and_then(|c| c.as_i64());
    let message = value
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    code == Some(124) || message.contains("access token")
}

fn unavailable(detail: String) -> ServiceError {
    ServiceError::Unavailable {
        detail,
        retry_after_secs: 1,
    }
}

fn resend_impossible() -> ServiceError {
    unavailable(
        "Zoom refused the access token and the streamed body cannot be sent again; \
         the token was replaced, send the call again"
            .into(),
    )
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_connect() {
        "connection failed".into()
    } else if err.is_timeout() {
        "timed out".into()
    } else {
        "the connection broke".into()
    }
}

//! A few of Zoom's REST API routes, with Zoom's rate limits and answers, so
//! the proxy can be demonstrated and tested against something that behaves
//! like Zoom: meetings to list and create, limits per account and category
//! counted in whole seconds of the sandbox's clock, `429`s with Zoom's
//! headers, `401` code 124 for a bad token.
//!
//! Sandbox-only helpers under `/v2/_sandbox/` stream large bodies both ways,
//! echo the headers that reached "Zoom", and redirect elsewhere.

// A refusal here is Zoom's whole answer; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod bodies;
mod meetings;

use super::SandboxState;
use crate::domain::RateCategory;
pub(crate) use meetings::Meeting;

/// Per-second limits by category (absent: unlimited) and daily ones.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ApiLimits {
    #[serde(default)]
    pub per_second: HashMap<RateCategory, u64>,
    #[serde(default)]
    pub daily: HashMap<RateCategory, u64>,
}

/// What the API routes saw: the figures tests hold the broker to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiUsage {
    /// Calls answered (not refused with 429), by `account:category`.
    pub answered: HashMap<String, u64>,
    /// Calls refused with 429.
    pub rate_limited: u64,
    /// The most calls of one `account:category` in any one second.
    pub max_per_second: HashMap<String, u64>,
    /// Calls refused with 401.
    pub unauthorized: u64,
}

#[derive(Default)]
pub struct ApiState {
    pub limits: ApiLimits,
    pub usage: ApiUsage,
    /// `account:category` → (second, calls in it).
    seconds: HashMap<String, (i64, u64)>,
    /// `account:category` → (day, calls in it).
    days: HashMap<String, (i64, u64)>,
    pub(crate) meetings: Vec<Meeting>,
    pub(crate) next_meeting: u64,
}

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route(
            "/v2/users/{user}/meetings",
            get(meetings::list).post(meetings::create),
        )
        .route(
            "/v2/meetings/{id}",
            get(meetings::show).delete(meetings::delete),
        )
        .route(
            "/v2/_sandbox/upload",
            post(bodies::upload).put(bodies::upload),
        )
        .route("/v2/_sandbox/download", get(bodies::download))
        .route("/v2/_sandbox/echo-headers", get(bodies::echo_headers))
        .route("/v2/_sandbox/redirect", get(bodies::redirect))
        .route("/_sandbox/api-limits", post(set_limits))
        .route("/_sandbox/api-usage", get(usage).delete(reset_usage))
        .route("/_sandbox/revoke-access", post(revoke_access))
}

/// Who a valid access token acts for.
pub(crate) struct Caller {
    pub account: String,
    pub user_id: Option<String>,
}

pub(crate) fn zoom_error(status: StatusCode, code: u64, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message }))).into_response()
}

/// Checks the token and the account's budget; `Err` is Zoom's refusal.
pub(crate) async fn admit(
    sandbox: &SandboxState,
    headers: &HeaderMap,
    category: RateCategory,
) -> Result<Caller, Response> {
    if let Some(response) = super::fault(sandbox, "api").await {
        return Err(response);
    }
    let world = sandbox.world();
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
        + world.clock_offset * 1000;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let access = token.and_then(|t| world.access.get(t));
    let refuse = |message: &str| {
        sandbox.api().usage.unauthorized += 1;
        Err(zoom_error(StatusCode::UNAUTHORIZED, 124, message))
    };
    let Some(access) = access else {
        return refuse("Invalid access token.");
    };
    if access.expires_at * 1000 <= now_ms {
        return refuse("Access token is expired.");
    }
    let grant = &world.grants[&access.grant_id];
    let user = grant
        .user_email
        .as_ref()
        .and_then(|e| world.users.get(&e.to_ascii_lowercase()));
    let account = match user {
        Some(user) => user.account_id.clone(),
        None => world
            .s2s_apps
            .get(&grant.client_id)
            .map(|a| a.account_id.clone())
            .unwrap_or_else(|| grant.client_id.clone()),
    };
    let caller = Caller {
        account,
        user_id: user.map(|u| u.id.clone()),
    };
    drop(world);
    sandbox.api().count(&caller.account, category, now_ms)?;
    Ok(caller)
}

impl ApiState {
    /// Counts one call, or answers Zoom's 429 when a limit is reached.
    fn count(
        &mut self,
        account: &str,
        category: RateCategory,
        now_ms: i64,
    ) -> Result<(), Response> {
        let key = format!("{account}:{category}");
        let (second, day) = (now_ms.div_euclid(1000), now_ms.div_euclid(86_400_000));
        let in_second = match self.seconds.get(&key) {
            Some((s, n)) if *s == second => *n,
            _ => 0,
        };
        let in_day = match self.days.get(&key) {
            Some((d, n)) if *d == day => *n,
            _ => 0,
        };
        let label = zoom_label(category);
        if let Some(limit) = self.limits.daily.get(&category).copied() {
            if in_day >= limit {
                self.usage.rate_limited += 1;
                let reset = crate::domain::rfc3339((day + 1) * 86_400);
                return Err(too_many(label, "Daily-limit", limit, &reset, &format!(
                    "You have exceeded the daily rate limit ({limit}) of {label} API requests permitted for this account. You may resume these requests at GMT 00:00:00."
                )));
            }
        }
        if let Some(limit) = self.limits.per_second.get(&category).copied() {
            if in_second >= limit {
                self.usage.rate_limited += 1;
                return Err(too_many(label, "QPS", limit, "1",
                    "You have reached the maximum per-second rate limit for this API. Try again later."));
            }
        }
        self.seconds.insert(key.clone(), (second, in_second + 1));
        self.days.insert(key.clone(), (day, in_day + 1));
        let max = self.usage.max_per_second.entry(key.clone()).or_default();
        *max = (*max).max(in_second + 1);
        *self.usage.answered.entry(key).or_default() += 1;
        Ok(())
    }
}

fn zoom_label(category: RateCategory) -> &'static str {
    match category {
        RateCategory::Light => "Light",
        RateCategory::Medium => "Medium",
        RateCategory::Heavy => "Heavy",
        RateCategory::ResourceIntensive => "Resource-intensive",
    }
}

fn too_many(label: &str, kind: &str, limit: u64, retry_after: &str, message: &str) -> Response {
    let mut response = zoom_error(StatusCode::TOO_MANY_REQUESTS, 429, message);
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-category", label.to_string()),
        ("x-ratelimit-type", kind.to_string()),
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", "0".to_string()),
        ("retry-after", retry_after.to_string()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

async fn set_limits(State(s): State<SandboxState>, Json(limits): Json<ApiLimits>) -> StatusCode {
    s.api().limits = limits;
    StatusCode::NO_CONTENT
}

async fn usage(State(s): State<SandboxState>) -> Json<ApiUsage> {
    Json(s.api().usage.clone())
}

async fn reset_usage(State(s): State<SandboxState>) -> StatusCode {
    let mut api = s.api();
    api.usage = ApiUsage::default();
    api.seconds.clear();
    api.days.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct RevokeAccess {
    email: String,
}

/// Kills the user's access tokens but not their refresh tokens, as Zoom does
/// when it invalidates sessions: the next call gets a `401` with code 124.
async fn revoke_access(
    State(s): State<SandboxState>,
    Json(body): Json<RevokeAccess>,
) -> Json<Value> {
    let mut world = s.world();
    let email = body.email.trim().to_ascii_lowercase();
    let grants: Vec<String> = world
        .grants
        .iter()
        .filter(|(_, g)| {
            g.user_email.as_deref().map(str::to_ascii_lowercase) == Some(email.clone())
        })
        .map(|(id, _)| id.clone())
        .collect();
    let before = world.access.len();
    world.access.retain(|_, t| !grants.contains(&t.grant_id));
    Json(json!({ "revoked": before - world.access.len() }))
}

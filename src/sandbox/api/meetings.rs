//! The sandbox's meetings: list, create, show and delete, as Zoom's.

// A refusal here is Zoom's whole answer; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{admit, zoom_error, Caller};
use crate::domain::RateCategory;
use crate::sandbox::SandboxState;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Meeting {
    id: u64,
    uuid: String,
    host_id: String,
    topic: String,
    #[serde(rename = "type")]
    kind: u64,
    start_time: Option<String>,
    duration: u64,
    join_url: String,
    created_at: String,
}

/// `me`, the user's id or email; only users of the caller's own account.
fn user_of(sandbox: &SandboxState, caller: &Caller, user: &str) -> Result<String, Response> {
    let missing = || zoom_error(StatusCode::NOT_FOUND, 1001, "User does not exist.");
    if user == "me" {
        return caller.user_id.clone().ok_or_else(missing);
    }
    let world = sandbox.world();
    world
        .users
        .values()
        .find(|u| {
            (u.id == user || u.email.eq_ignore_ascii_case(user)) && u.account_id == caller.account
        })
        .map(|u| u.id.clone())
        .ok_or_else(missing)
}

#[derive(Deserialize)]
pub(super) struct Paging {
    page_size: Option<usize>,
}

pub(super) async fn list(
    State(s): State<SandboxState>,
    Path(user): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Response {
    let caller = match admit(&s, &headers, RateCategory::Medium).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let host = match user_of(&s, &caller, &user) {
        Ok(id) => id,
        Err(missing) => return missing,
    };
    let api = s.api();
    let mine: Vec<&Meeting> = api.meetings.iter().filter(|m| m.host_id == host).collect();
    let size = paging.page_size.unwrap_or(30).clamp(1, 300);
    Json(json!({
        "page_size": size,
        "total_records": mine.len(),
        "next_page_token": "",
        "meetings": mine.into_iter().take(size).collect::<Vec<_>>(),
    }))
    .into_response()
}

pub(super) async fn create(
    State(s): State<SandboxState>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match admit(&s, &headers, RateCategory::Medium).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let host = match user_of(&s, &caller, &user) {
        Ok(id) => id,
        Err(missing) => return missing,
    };
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return zoom_error(StatusCode::BAD_REQUEST, 300, "Invalid request body.");
    };
    let now = s.world().now();
    let mut api = s.api();
    api.next_meeting += 1;
    let id = 80_000_000_000 + api.next_meeting;
    let meeting = Meeting {
        id,
        uuid: crate::crypto::random_token()[..22].to_string(),
        host_id: host,
        topic: input["topic"]
            .as_str()
            .unwrap_or("Zoom meeting")
            .to_string(),
        kind: input["type"].as_u64().unwrap_or(2),
        start_time: input["start_time"].as_str().map(str::to_string),
        duration: input["duration"].as_u64().unwrap_or(60),
        join_url: format!("https://zoom.us/j/{id}"),
        created_at: crate::domain::rfc3339(now),
    };
    api.meetings.push(meeting.clone());
    (StatusCode::CREATED, Json(meeting)).into_response()
}

pub(super) async fn show(
    State(s): State<SandboxState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    meeting_call(&s, id, &headers, Method::GET).await
}

pub(super) async fn delete(
    State(s): State<SandboxState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    meeting_call(&s, id, &headers, Method::DELETE).await
}

async fn meeting_call(s: &SandboxState, id: u64, headers: &HeaderMap, method: Method) -> Response {
    let caller = match admit(s, headers, RateCategory::Light).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let world_users: Vec<String> = {
        let world = s.world();
        world
            .users
            .values()
            .filter(|u| u.account_id == caller.account)
            .map(|u| u.id.clone())
            .collect()
    };
    let mut api = s.api();
    let Some(index) = api
        .meetings
        .iter()
        .position(|m| m.id == id && world_users.contains(&m.host_id))
    else {
        return zoom_error(StatusCode::NOT_FOUND, 3001, "Meeting does not exist.");
    };
    if method == Method::DELETE {
        api.meetings.remove(index);
        return StatusCode::NO_CONTENT.into_response();
    }
    Json(api.meetings[index].clone()).into_response()
}

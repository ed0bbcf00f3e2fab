//! The proxy's ways of failing that `proxy.rs` does not reach: Zoom refusing
//! the replacement token too, a 401 that is about something else, Zoom too
//! slow for the caller's deadline, a 5xx, and a streamed body that cannot be
//! sent twice. Each is checked against what reached the sandbox Zoom.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const ANN: &str = "ann@acme.example";

fn route(app: &TestApp, path: &str) -> String {
    format!("{}/api/v1/orgs/acme/users/{ANN}/zoom/{path}", app.base)
}

/// A GET of `path` as Ann, with the broker's deadline header when given.
async fn get(app: &TestApp, path: &str, deadline_ms: Option<&str>) -> reqwest::Response {
    let mut request = app.api.get(route(app, path)).bearer_auth(&app.api_key);
    if let Some(ms) = deadline_ms {
        request = request.header("x-tokenbroker-deadline-ms", ms);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn zoom_refusing_the_replacement_too_is_409_after_one_refresh() {
    let app = spawn_app().await;
    app.connect(ANN, "user", "Member").await;
    // Every token Zoom issues from now on is dead on arrival.
    app.sandbox.set_access_ttl(0);
    assert_eq!(app.revoke_access(ANN).await, 1);
    let (refreshes, refused) = (
        app.counters().refresh_token,
        app.sandbox.api_usage().unauthorized,
    );
    let answer = get(&app, "users/me/meetings", None).await;
    assert_eq!(
        error_code(answer, StatusCode::CONFLICT).await,
        "reauthorization_required"
    );
    assert_eq!(app.counters().refresh_token - refreshes, 1, "one refresh");
    assert_eq!(
        app.sandbox.api_usage().unauthorized - refused,
        2,
        "the call and its one resend"
    );
}

#[tokio::test]
async fn a_401_about_something_else_is_zooms_answer_and_keeps_the_token() {
    let app = spawn_app().await;
    app.connect(ANN, "user", "Member").await;
    let refreshes = app.counters().refresh_token;
    app.fault("api", Some(401), 0, 1);
    let answer = get(&app, "users/me/meetings", None).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers()["x-tokenbroker-auth-type"], "oauth");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["reason"], "Internal Error", "Zoom's own body");
    assert_eq!(app.counters().refresh_token, refreshes, "no replacement");
    let next = get(&app, "users/me/meetings", None).await;
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn zoom_slower_than_the_deadline_is_503_with_retry_after() {
    let app = spawn_app().await;
    app.connect(ANN, "user", "Member").await;
    app.fault("api", None, 2_000, 1);
    let started = Instant::now();
    let answer = get(&app, "users/me/meetings", Some("300")).await;
    let took = started.elapsed();
    assert!(answer.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(answer, StatusCode::SERVICE_UNAVAILABLE).await,
        "upstream_unavailable"
    );
    assert!(
        took < Duration::from_millis(1_500),
        "the deadline, not Zoom's delay, ended the call: {took:?}"
    );
}

#[tokio::test]
async fn a_5xx_is_retried_within_a_deadline_and_passed_back_without_one() {
    let app = spawn_app().await;
    app.connect(ANN, "user", "Member").await;
    // Without a deadline there is no time to retry in: Zoom's 502 is the answer.
    app.fault("api", Some(502), 0, 1);
    let passed = get(&app, "users/me/meetings", None).await;
    assert_eq!(passed.status(), StatusCode::BAD_GATEWAY);
    app.fault("api", Some(502), 0, 1);
    let retried = get(&app, "users/me/meetings", Some("5000")).await;
    assert_eq!(retried.status(), StatusCode::OK);

    // A POST is not idempotent: Zoom's 502 is the answer, sent once.
    app.fault("api", Some(502), 0, 1);
    let posted = app
        .api
        .post(route(&app, "users/me/meetings"))
        .bearer_auth(&app.api_key)
        .header("x-tokenbroker-deadline-ms", "5000")
        .json(&json!({ "topic": "once" }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::BAD_GATEWAY);
    let body: Value = posted.json().await.unwrap();
    assert_eq!(body["error"], "server_error", "Zoom's own body");
    // A resend would have reached Zoom past the fault and made the meeting.
    let listed: Value = get(&app, "users/me/meetings", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total_records"], 0, "no meeting was created");
}

#[tokio::test]
async fn a_streamed_body_refused_for_its_token_is_503_and_the_replacement_serves_the_retry() {
    let app = spawn_app_with(&[("TOKENBROKER_PROXY_BUFFER_BYTES", "64")]).await;
    app.connect(ANN, "user", "Member").await;
    assert_eq!(app.revoke_access(ANN).await, 1);
    let refreshes = app.counters().refresh_token;
    let big = json!({ "topic": "x".repeat(500) });
    let send = || {
        app.api
            .post(route(&app, "users/me/meetings"))
            .bearer_auth(&app.api_key)
            .json(&big)
            .send()
    };
    let first = send().await.unwrap();
    assert!(first.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(first, StatusCode::SERVICE_UNAVAILABLE).await,
        "upstream_unavailable"
    );
    assert_eq!(app.counters().refresh_token - refreshes, 1);
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    let meeting: Value = again.json().await.unwrap();
    assert_eq!(meeting["topic"].as_str().unwrap().len(), 500);
    assert_eq!(
        app.counters().refresh_token - refreshes,
        1,
        "no second refresh"
    );
}

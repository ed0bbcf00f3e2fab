//! Zoom down: 503 with Retry-After, stored tokens untouched, recovery after.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

async fn assert_unavailable(app: &TestApp) {
    let response = app.token("ann@acme.example").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "upstream_unavailable");
}

async fn recover(app: &TestApp, id: &str, version_before: i64) {
    let row = app.app.store.connection_by_id(id).await.unwrap().unwrap();
    assert_eq!(
        row.version, version_before,
        "the stored refresh token was not touched"
    );
    assert_eq!(row.status, tokenbroker::domain::ConnectionStatus::Active);
    // Within the backoff, Zoom is left alone.
    let calls = app.counters().refresh_token;
    assert_unavailable(app).await;
    assert_eq!(app.counters().refresh_token, calls);
    // Once the 1 s backoff is over, the next call refreshes and succeeds.
    let started = std::time::Instant::now();
    loop {
        let answer = app.token("ann@acme.example").await;
        if answer.status() == StatusCode::OK {
            break;
        }
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            started.elapsed().as_secs() < 5,
            "never recovered after the backoff"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn expired_connection(app: &TestApp) -> (String, i64) {
    let id = app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    let version = app
        .app
        .store
        .connection_by_id(&id)
        .await
        .unwrap()
        .unwrap()
        .version;
    (id, version)
}

#[tokio::test]
async fn zoom_500_then_recovery() {
    let app = spawn_app().await;
    let (id, version) = expired_connection(&app).await;
    app.fault("token", Some(500), 0, 1);
    assert_unavailable(&app).await;
    recover(&app, &id, version).await;
}

#[tokio::test]
async fn zoom_timeout_then_recovery() {
    let app = spawn_app().await;
    let (id, version) = expired_connection(&app).await;
    // Zoom hangs past our 2 s timeout (and then fails, so it rotated nothing).
    app.fault("token", Some(504), 2_500, 1);
    assert_unavailable(&app).await;
    recover(&app, &id, version).await;
}

#[tokio::test]
async fn connection_refused_then_recovery() {
    let mut app = spawn_app().await;
    let (id, version) = expired_connection(&app).await;
    app.stop_sandbox().await;
    assert_unavailable(&app).await;
    app.restart_sandbox().await;
    recover(&app, &id, version).await;
}

#[tokio::test]
async fn a_still_valid_token_is_served_with_a_warning_during_an_outage() {
    let mut app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600 - 120); // inside the refresh window, not yet expired
    app.stop_sandbox().await;
    let response = app.token("ann@acme.example").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("could not refresh"),
        "{body}"
    );
}

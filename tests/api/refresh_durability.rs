//! A refresh that reached Zoom is seen through to its answer; an answer that
//! is truly lost is named as such when the grant turns out dead.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use tokenbroker::sandbox::{Fault, S2sApp};
use tokenbroker::tokens::LOST_ANSWER_REASON;

use crate::helpers::{error_code, spawn_app, TestApp, CLIENT_ID, CLIENT_SECRET};

/// Zoom acts on the next token call at once and answers it `delay_ms` later.
fn slow_zoom(app: &TestApp, delay_ms: u64) {
    app.sandbox.add_fault(Fault {
        endpoint: "token".into(),
        delay_ms,
        count: 1,
        ..Fault::default()
    });
}

/// Waits until the row's version moves past `version`: the refresh stored.
async fn stored_after(app: &TestApp, id: &str, version: i64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = app.app.store.connection_by_id(id).await.unwrap().unwrap();
        if row.version > version {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the refreshed pair was never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Calls the token API until it stops answering 503 (a backoff ending).
async fn after_backoff(app: &TestApp) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.token("ann@acme.example").await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return response;
        }
        assert!(Instant::now() < deadline, "still unavailable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metrics(app: &TestApp) -> String {
    let url = format!("{}/metrics", app.base);
    app.api.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_refresh_slower_than_the_caller_wait_keeps_the_grant() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let before = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    app.app.clock.advance(3_600); // expired: nothing valid to hand out meanwhile
    slow_zoom(&app, 3_500); // past the caller's 2 s wait

    let started = Instant::now();
    let response = app.token("ann@acme.example").await;
    let waited = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(
        error_code(response, StatusCode::SERVICE_UNAVAILABLE).await,
        "upstream_unavailable"
    );
    assert!(
        waited < Duration::from_millis(3_000),
        "answered within the usual wait: {waited:?}"
    );

    // The refresh went on without the caller and stored Zoom's answer.
    stored_after(&app, &id, before.version).await;
    let fresh: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert!(fresh["warnings"].as_array().unwrap().is_empty(), "{fresh}");
    let counters = app.counters();
    assert_eq!((counters.refresh_token, counters.refresh_reuse), (1, 0));

    // The stored refresh token is the rotated one: the next refresh works.
    app.app.clock.advance(3_600);
    let next: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_ne!(next["access_token"], fresh["access_token"]);
    let counters = app.counters();
    assert_eq!((counters.refresh_token, counters.refresh_reuse), (2, 0));
    assert_eq!(app.connections().await[0]["status"], "active");
}

#[tokio::test]
async fn a_still_valid_token_is_served_while_zoom_is_slow() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let before = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    let old: Value = app.token("ann@acme.example").await.json().await.unwrap();
    app.app.clock.advance(3_600 - 120); // inside the refresh window, still valid
    slow_zoom(&app, 3_500);
    let started = Instant::now();
    let stale: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(3_000));
    assert_eq!(stale["access_token"], old["access_token"]);
    assert!(stale["warnings"][0]
        .as_str()
        .unwrap()
        .contains("could not refresh"));
    stored_after(&app, &id, before.version).await;
    let fresh: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_ne!(fresh["access_token"], old["access_token"]);
    assert_eq!(app.counters().refresh_token, 1);
}

#[tokio::test]
async fn a_lost_refresh_answer_is_named_when_the_grant_turns_out_dead() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    // Zoom rotates, then the connection drops before any answer.
    app.sandbox.add_fault(Fault {
        endpoint: "token".into(),
        count: 1,
        drop_connection: true,
        ..Fault::default()
    });
    let lost = app.token("ann@acme.example").await;
    assert_eq!(
        error_code(lost, StatusCode::SERVICE_UNAVAILABLE).await,
        "upstream_unavailable"
    );
    assert!(metrics(&app)
        .await
        .contains(r#"tokenbroker_token_refreshes_total{kind="oauth",outcome="no_answer"} 1"#));

    // The next attempt can only replay the spent refresh token.
    let dead = after_backoff(&app).await;
    assert_eq!(
        error_code(dead, StatusCode::CONFLICT).await,
        "reauthorization_required"
    );
    assert_eq!(app.counters().refresh_reuse, 1);
    let connection = &app.connections().await[0];
    assert_eq!(connection["status"], "needs_reauth");
    assert_eq!(connection["status_reason"], LOST_ANSWER_REASON);
    let text = metrics(&app).await;
    assert!(
        text.contains(r#"tokenbroker_token_refreshes_total{kind="oauth",outcome="answer_lost"} 1"#),
        "{text}"
    );
    assert!(!text.contains(r#"outcome="invalid_grant""#), "{text}");
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("a refresh answer from Zoom was lost"),
        "{audit}"
    );
}

#[tokio::test]
async fn a_refresh_that_never_reached_zoom_fails_fast_and_is_not_a_lost_answer() {
    let mut app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    app.stop_sandbox().await;
    let started = Instant::now();
    let refused = app.token("ann@acme.example").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    app.restart_sandbox().await;

    // The user removes the app at Zoom: an ordinary dead grant.
    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    let refresh_token = app
        .app
        .keyring
        .open_string(
            tokenbroker::crypto::Aad::new(
                tokenbroker::crypto::SealedColumn::CONNECTION_REFRESH_TOKEN,
                &id,
            ),
            row.refresh_token.as_deref().unwrap(),
        )
        .unwrap();
    let revoked = app
        .api
        .post(format!("{}/oauth/revoke", app.sandbox_url))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", refresh_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let dead = after_backoff(&app).await;
    assert_eq!(dead.status(), StatusCode::CONFLICT);
    let reason = app.connections().await[0]["status_reason"].clone();
    assert!(
        reason.as_str().unwrap().contains("Invalid Token!"),
        "{reason}"
    );
    assert_ne!(reason, LOST_ANSWER_REASON);
}

#[tokio::test]
async fn a_slow_server_to_server_mint_is_awaited_and_stored() {
    let app = spawn_app().await;
    app.sandbox.register_s2s_app(S2sApp {
        account_id: "acct-s2s".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
    let put = app
        .send_json(
            Method::PUT,
            "/api/v1/orgs/acme/s2s-credentials",
            json!({ "email": "ops@acme.example", "account_id": "acct-s2s",
                    "client_id": "s2s-id", "client_secret": "s2s-secret" }),
        )
        .await;
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let first: Value = app.token("ann@acme.example").await.json().await.unwrap();
    let version = app
        .app
        .store
        .s2s(&app.org.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    app.app.clock.advance(3_600);
    slow_zoom(&app, 3_500);
    let waiting = app.token("ann@acme.example").await;
    assert_eq!(waiting.status(), StatusCode::SERVICE_UNAVAILABLE);
    let deadline = Instant::now() + Duration::from_secs(15);
    while app
        .app
        .store
        .s2s(&app.org.id)
        .await
        .unwrap()
        .unwrap()
        .version
        == version
    {
        assert!(
            Instant::now() < deadline,
            "the minted token was never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let minted: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_eq!(minted["auth_type"], "s2s");
    assert_ne!(minted["access_token"], first["access_token"]);
    // One check when the credentials were set, one mint at expiry.
    assert_eq!(app.counters().account_credentials, 2);
}

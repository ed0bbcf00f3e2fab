//! Refresh exactly once, however many callers ask at the same moment.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app, TestApp};
use tokenbroker::crypto::{Aad, SealedColumn};

async fn stored_refresh_token(app: &TestApp, id: &str) -> String {
    let row = app.app.store.connection_by_id(id).await.unwrap().unwrap();
    app.app
        .keyring
        .open_string(
            Aad::new(SealedColumn::CONNECTION_REFRESH_TOKEN, id),
            row.refresh_token.as_deref().unwrap(),
        )
        .unwrap()
}

#[tokio::test]
async fn a_fresh_token_is_served_without_calling_zoom() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    for _ in 0..5 {
        assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    }
    assert_eq!(app.counters().refresh_token, 0);
}

#[tokio::test]
async fn a_thousand_concurrent_callers_cause_exactly_one_refresh() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let old: Value = app.token("ann@acme.example").await.json().await.unwrap();
    app.app.clock.advance(3_600); // the stored token is now expired
    app.fault("token", None, 300, 1); // a slow Zoom, so callers pile up
    let calls = (0..1_000).map(|_| async { app.token("ann@acme.example").await });
    let responses = join_all(calls).await;
    let mut tokens = HashSet::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        tokens.insert(body["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(
        app.counters().refresh_token,
        1,
        "exactly one upstream refresh"
    );
    assert_eq!(tokens.len(), 1, "every caller got the same token");
    assert!(!tokens.contains(old["access_token"].as_str().unwrap()));
    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status, tokenbroker::domain::ConnectionStatus::Active);
    assert!(row.last_refreshed_at.is_some());
    // The new token works at Zoom; the rotated refresh token is the live one.
    let me = app
        .api
        .get(format!("{}/v2/users/me", app.sandbox_url))
        .bearer_auth(tokens.iter().next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn tokens_inside_the_refresh_ahead_window_are_refreshed_before_use() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600 - 200); // 200 s left, window is 300 s
    let body: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_eq!(app.counters().refresh_token, 1);
    let expires = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires.unix_timestamp() - app.app.clock.now() > 3_000);
}

#[tokio::test]
async fn a_dead_grant_marks_the_connection_needs_reauth() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    // The user removes the app at Zoom: the grant dies.
    let rt = stored_refresh_token(&app, &id).await;
    let revoked = app
        .api
        .post(format!("{}/oauth/revoke", app.sandbox_url))
        .basic_auth(
            crate::helpers::CLIENT_ID,
            Some(crate::helpers::CLIENT_SECRET),
        )
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    app.app.clock.advance(3_600);
    let response = app.token("ann@acme.example").await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "reauthorization_required"
    );
    let connections = app.connections().await;
    assert_eq!(connections[0]["status"], "needs_reauth");
    assert!(connections[0]["status_reason"]
        .as_str()
        .unwrap()
        .contains("Invalid Token!"));
    // No retry storm against a dead grant: later calls answer from the row.
    let again = app.token("ann@acme.example").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(app.counters().refresh_token, 1);
}

#[tokio::test]
async fn invalid_grant_after_a_concurrent_rotation_counts_as_success() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    // Zoom will answer our refresh with invalid_grant after a pause, as it
    // would if another replica had rotated the token first.
    app.sandbox.add_fault(tokenbroker::sandbox::Fault {
        endpoint: "token".into(),
        status: Some(400),
        delay_ms: 400,
        count: 1,
        error: Some("invalid_grant".into()),
        reason: Some("Invalid Token!".into()),
        drop_connection: false,
    });
    let request = tokio::spawn({
        let url = format!("{}/api/v1/orgs/acme/users/ann@acme.example/token", app.base);
        let key = app.api_key.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    });
    // Await our refresh taking the lease (it then waits on Zoom's slow answer).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let row = loop {
        let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
        if row.lease_owner.is_some() {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "our refresh never took the lease"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    // "Another replica" takes the lease over (as if ours had run out),
    // refreshes and commits while our call is in flight.
    let ours = row
        .lease_owner
        .clone()
        .expect("our refresh holds the lease");
    let slot = tokenbroker::store::TokenSlot::Connection;
    let store = &app.app.store;
    store
        .release_lease(slot, &id, &ours, tokenbroker::store::LeaseEnd::Settled)
        .await
        .unwrap();
    assert!(store
        .acquire_lease(slot, &id, row.version, "replica-b", 60)
        .await
        .unwrap()
        .is_some());
    let now = app.app.clock.now();
    let seal = |col: SealedColumn, v: &str| app.app.keyring.seal_str(Aad::new(col, &id), v);
    let update = tokenbroker::store::RefreshedTokens {
        id: id.clone(),
        expected_version: row.version,
        access_token: seal(
            SealedColumn::CONNECTION_ACCESS_TOKEN,
            "rotated-by-replica-b",
        ),
        refresh_token: Some(seal(
            SealedColumn::CONNECTION_REFRESH_TOKEN,
            "rt-from-replica-b",
        )),
        access_expires_at: now + 3_600,
        scopes: None,
        now,
        lease_owner: "replica-b".into(),
    };
    assert!(app
        .app
        .store
        .store_refreshed(tokenbroker::store::TokenSlot::Connection, &update)
        .await
        .unwrap());
    let response = request.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["access_token"], "rotated-by-replica-b");
    assert_eq!(app.connections().await[0]["status"], "active");
}

#[tokio::test]
async fn a_missing_refresh_token_in_the_answer_keeps_the_old_one() {
    // Exercised through the store: COALESCE keeps the stored refresh token.
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let before = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    let slot = tokenbroker::store::TokenSlot::Connection;
    assert!(app
        .app
        .store
        .acquire_lease(slot, &id, before.version, "holder", 60)
        .await
        .unwrap()
        .is_some());
    let mut update = tokenbroker::store::RefreshedTokens {
        id: id.clone(),
        expected_version: before.version,
        access_token: app
            .app
            .keyring
            .seal_str(Aad::new(SealedColumn::CONNECTION_ACCESS_TOKEN, &id), "a2"),
        refresh_token: None,
        access_expires_at: 1,
        scopes: None,
        now: 1,
        lease_owner: "someone-else".into(),
    };
    // Fenced: only the lease holder may store, even at the right version.
    assert!(!app.app.store.store_refreshed(slot, &update).await.unwrap());
    update.lease_owner = "holder".into();
    assert!(app.app.store.store_refreshed(slot, &update).await.unwrap());
    let after = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!(after.refresh_token, before.refresh_token);
    assert_eq!(after.version, before.version + 1);
    // A stale version is refused: compare-and-swap.
    assert!(!app
        .app
        .store
        .store_refreshed(tokenbroker::store::TokenSlot::Connection, &update)
        .await
        .unwrap());
}

#[tokio::test]
async fn the_background_refresher_refreshes_ahead_of_callers() {
    let app = crate::helpers::spawn_app_with(&[
        ("TOKENBROKER_BACKGROUND_REFRESH", "1"),
        ("TOKENBROKER_REFRESH_SWEEP_SECS", "1"),
    ])
    .await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600 - 100);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
        if row.last_refreshed_at.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "background refresher did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.counters().refresh_token, 1);
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    assert_eq!(
        app.counters().refresh_token,
        1,
        "the request path did not wait on Zoom"
    );
}

/// Zoom rotates on every refresh: each new refresh token must be stored and
/// be the one the next refresh sends. The sandbox counts a reused token, so a
/// broker that kept the old one would show it here.
#[tokio::test]
async fn each_rotated_refresh_token_is_stored_and_sent_once() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let mut seen = std::collections::HashSet::from([stored_refresh_token(&app, &id).await]);
    for round in 1..=3u64 {
        app.app.clock.advance(3_600 - 200); // inside the refresh-ahead window again
        assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
        let stored = stored_refresh_token(&app, &id).await;
        assert!(
            seen.insert(stored),
            "round {round}: the rotated refresh token was not stored"
        );
        let counters = app.counters();
        assert_eq!(
            (counters.refresh_token, counters.refresh_reuse),
            (round, 0),
            "round {round}"
        );
    }
}

/// Every caller hangs up while Zoom is slow: the refresh still runs to its
/// end and stores the rotated pair, and the next caller gets it without a
/// second refresh (a second one would replay a dead refresh token).
#[tokio::test]
async fn a_refresh_survives_every_caller_hanging_up() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let before = stored_refresh_token(&app, &id).await;
    app.app.clock.advance(3_600 - 200);
    // Zoom processes the refresh at once and answers 1.5 s later.
    app.fault("token", None, 1_500, 1);
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/orgs/acme/users/ann@acme.example/token", app.base);
    let callers = (0..5).map(|_| impatient.get(&url).bearer_auth(&app.api_key).send());
    for hung_up in join_all(callers).await {
        assert!(hung_up.unwrap_err().is_timeout());
    }
    // Await the stored pair (bounded), not a fixed sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while stored_refresh_token(&app, &id).await == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned refresh was never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    let counters = app.counters();
    assert_eq!((counters.refresh_token, counters.refresh_reuse), (1, 0));
}

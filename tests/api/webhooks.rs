//! Zoom webhooks: signatures, replay window, URL validation, deauthorization.

use reqwest::StatusCode;
use serde_json::{json, Value};

use tokenbroker::crypto::hmac_hex;
use tokenbroker::zoom::webhook_signature as signature;

use crate::helpers::{spawn_app, TestApp, CLIENT_ID, WEBHOOK_SECRET};

async fn post(
    app: &TestApp,
    body: &Value,
    timestamp: i64,
    sig: Option<String>,
) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let ts = timestamp.to_string();
    let sig = sig.unwrap_or_else(|| signature(WEBHOOK_SECRET, &ts, &raw));
    app.api
        .post(format!("{}/webhooks/zoom", app.base))
        .header("content-type", "application/json")
        .header("x-zm-request-timestamp", ts)
        .header("x-zm-signature", sig)
        .body(raw)
        .send()
        .await
        .unwrap()
}

/// A new deauthorization event, dated now: each has its own signature.
fn deauth(user_id: &str, account_id: &str, client_id: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({ "event": "app_deauthorized", "payload": {
        "account_id": account_id, "user_id": user_id, "client_id": client_id,
        "signature": uuid::Uuid::new_v4().to_string(),
        "deauthorization_time": tokenbroker::domain::rfc3339(now) } })
}

async fn ann_connection(app: &TestApp) -> (String, Value) {
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let c = app.connections().await.remove(0);
    (id, c)
}

#[tokio::test]
async fn url_validation_answers_with_the_hmac_of_the_plain_token() {
    let app = spawn_app().await;
    let body = json!({ "event": "endpoint.url_validation", "payload": { "plainToken": "qgg8vlvZRS6UYooatFL8Aw" } });
    let response = post(&app, &body, app.app.clock.now(), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        answer["encryptedToken"],
        hmac_hex(WEBHOOK_SECRET, b"qgg8vlvZRS6UYooatFL8Aw")
    );
}

#[tokio::test]
async fn a_valid_deauthorization_revokes_and_erases_tokens_once() {
    let app = spawn_app().await;
    let (id, c) = ann_connection(&app).await;
    let event = deauth(
        c["zoom_user_id"].as_str().unwrap(),
        c["zoom_account_id"].as_str().unwrap(),
        CLIENT_ID,
    );
    assert_eq!(
        post(&app, &event, app.app.clock.now(), None).await.status(),
        StatusCode::NO_CONTENT
    );
    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status, tokenbroker::domain::ConnectionStatus::Revoked);
    assert!(row.access_token.is_none() && row.refresh_token.is_none());
    assert_eq!(
        crate::helpers::error_code(app.token("ann@acme.example").await, StatusCode::NOT_FOUND)
            .await,
        "not_connected"
    );
    // A duplicate delivery changes nothing and records nothing new.
    assert_eq!(
        post(&app, &event, app.app.clock.now(), None).await.status(),
        StatusCode::NO_CONTENT
    );
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    let deauths = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "connection.deauthorized")
        .count();
    assert_eq!(deauths, 1);
    assert_eq!(
        app.app
            .store
            .connection_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .version,
        row.version
    );
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_missing_headers_change_nothing() {
    let app = spawn_app().await;
    let (id, c) = ann_connection(&app).await;
    let event = deauth(
        c["zoom_user_id"].as_str().unwrap(),
        c["zoom_account_id"].as_str().unwrap(),
        CLIENT_ID,
    );
    let now = app.app.clock.now();
    let bad = post(&app, &event, now, Some("v0=deadbeef".into())).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let forged = post(
        &app,
        &event,
        now,
        Some(signature(
            "wrong-secret",
            &now.to_string(),
            &serde_json::to_vec(&event).unwrap(),
        )),
    )
    .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // A replay of a once-valid call, 6 minutes later: correctly signed, but stale.
    let stale = post(&app, &event, now - 360, None).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let future = post(&app, &event, now + 360, None).await;
    assert_eq!(future.status(), StatusCode::UNAUTHORIZED);
    let bare = app
        .api
        .post(format!("{}/webhooks/zoom", app.base))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    // A signed body that was tampered with.
    let ts = now.to_string();
    let sig = signature(WEBHOOK_SECRET, &ts, &serde_json::to_vec(&event).unwrap());
    let tampered = deauth("someone-else", "x", CLIENT_ID);
    assert_eq!(
        post(&app, &tampered, now, Some(sig)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.app
            .store
            .connection_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Active
    );
}

#[tokio::test]
async fn events_for_another_client_id_are_ignored() {
    let app = spawn_app().await;
    let (id, c) = ann_connection(&app).await;
    let event = deauth(
        c["zoom_user_id"].as_str().unwrap(),
        c["zoom_account_id"].as_str().unwrap(),
        "some-other-app",
    );
    assert_eq!(
        post(&app, &event, app.app.clock.now(), None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.app
            .store
            .connection_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Active
    );
}

#[tokio::test]
async fn the_sandbox_sends_a_signed_event_when_a_user_removes_the_app() {
    let app = spawn_app().await;
    let (id, _) = ann_connection(&app).await;
    let acct = app.connect("boss@acme.example", "account", "Owner").await;
    let response: Value = app
        .api
        .post(format!("{}/_sandbox/deauthorize", app.sandbox_url))
        .json(&json!({ "email": "ann@acme.example" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["deliveries"], json!([204]));
    assert_eq!(
        app.app
            .store
            .connection_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Revoked
    );
    // Ann's removal says nothing about the grant her admin made for the account.
    assert_eq!(
        app.app
            .store
            .connection_by_id(&acct)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Active
    );
    let by_installer = app
        .api
        .post(format!("{}/_sandbox/deauthorize", app.sandbox_url))
        .json(&json!({ "email": "boss@acme.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(by_installer.status(), StatusCode::OK);
    assert_eq!(
        app.app
            .store
            .connection_by_id(&acct)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Revoked
    );
}

#[tokio::test]
async fn oversized_or_malformed_events_are_refused() {
    let app = spawn_app().await;
    let junk = json!({ "nope": true });
    let response = post(&app, &junk, app.app.clock.now(), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let big = json!({ "event": "x", "payload": { "pad": "x".repeat(100 * 1024) } });
    let response = post(&app, &big, app.app.clock.now(), None).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn without_a_secret_token_webhooks_are_refused() {
    let app = crate::helpers::spawn_app_with(&[("ZOOM_WEBHOOK_SECRET_TOKEN", "")]).await;
    let (id, c) = ann_connection(&app).await;
    let event = deauth(
        c["zoom_user_id"].as_str().unwrap(),
        c["zoom_account_id"].as_str().unwrap(),
        CLIENT_ID,
    );
    let response = post(&app, &event, app.app.clock.now(), None).await;
    assert_eq!(
        crate::helpers::error_code(response, StatusCode::CONFLICT).await,
        "webhooks_disabled"
    );
    assert_eq!(
        app.app
            .store
            .connection_by_id(&id)
            .await
            .unwrap()
            .unwrap()
            .status,
        tokenbroker::domain::ConnectionStatus::Active
    );
}

/// Known answers computed outside this crate (Python's `hmac` and
/// `openssl dgst -sha256 -hmac`), so a wrong signer and a wrong verifier
/// cannot agree with each other and pass.
#[tokio::test]
async fn signatures_match_independently_computed_known_answers() {
    const BODY: &str = r#"{"event":"app_deauthorized","payload":{"user_id":"u_1"}}"#;
    assert_eq!(
        signature(WEBHOOK_SECRET, "1700000000", BODY.as_bytes()),
        "v0=7f576709879b2f9f0da7263b9c5671299a5421375d8989c16491347c91eac278"
    );
    assert_eq!(
        hmac_hex(WEBHOOK_SECRET, b"qgg8vlvZRS6UYooatFL8Aw"),
        "54236a2d9fd4ca79837ef336c8380ecca4046f932fa01ea351b13f812149b7a7"
    );
    // The endpoint itself: a request signed with the known answer is accepted,
    // and the URL validation answers with the known encrypted token.
    let app = spawn_app().await;
    let now = app.app.clock.now().to_string();
    let body = json!({ "event": "endpoint.url_validation", "payload": { "plainToken": "qgg8vlvZRS6UYooatFL8Aw" } });
    let raw = serde_json::to_vec(&body).unwrap();
    let expected_sig = {
        // Recomputed here only to carry the live timestamp; the vector above pins the function.
        signature(WEBHOOK_SECRET, &now, &raw)
    };
    let answer: Value = app
        .api
        .post(format!("{}/webhooks/zoom", app.base))
        .header("content-type", "application/json")
        .header("x-zm-request-timestamp", &now)
        .header("x-zm-signature", expected_sig)
        .body(raw)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["encryptedToken"],
        "54236a2d9fd4ca79837ef336c8380ecca4046f932fa01ea351b13f812149b7a7"
    );
}

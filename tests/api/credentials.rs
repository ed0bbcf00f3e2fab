//! Legacy JWT keys, Server-to-Server credentials, and disconnect.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};
use tokenbroker::sandbox::S2sApp;

const JWT_OPEN: &[(&str, &str)] = &[
    ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
    (
        "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
        "2099-06-01T00:00:00Z",
    ),
];

async fn put_jwt(app: &TestApp) -> reqwest::Response {
    app.send_json(
        Method::PUT,
        "/api/v1/orgs/acme/jwt-credentials",
        json!({ "api_key": "legacy-key", "api_secret": "legacy-secret" }),
    )
    .await
}

#[tokio::test]
async fn jwt_fallback_signs_hs256_until_the_cutoff() {
    let app = spawn_app_with(JWT_OPEN).await;
    assert_eq!(put_jwt(&app).await.status(), StatusCode::NO_CONTENT);
    let body: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_eq!(body["auth_type"], "jwt");
    assert!(body["connection_id"].is_null());
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("2099-09-01T00:00:00Z"),
        "{body}"
    );
    let token = body["access_token"].as_str().unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(b"legacy-secret"),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims["iss"], "legacy-key");
    let exp = decoded.claims["exp"].as_i64().unwrap();
    assert!((exp - app.app.clock.now() - 3_600).abs() <= 2);
    // The secret is never shown again, not even in the audit log.
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains("legacy-secret"));
    // OAuth wins as soon as it exists.
    app.connect("ann@acme.example", "user", "Member").await;
    let body: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_eq!(body["auth_type"], "oauth");
}

#[tokio::test]
async fn jwt_expiry_is_capped_at_the_cutoff_and_refused_after_it() {
    let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(20);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", &soon),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    assert_eq!(put_jwt(&app).await.status(), StatusCode::NO_CONTENT);
    let body: Value = app.token("ann@acme.example").await.json().await.unwrap();
    let exp = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        exp.unix_timestamp(),
        app.app.config.jwt_cutoff.unix_timestamp()
    );
    app.app.clock.advance(21 * 60);
    let response = app.token("ann@acme.example").await;
    assert_eq!(
        error_code(response, StatusCode::GONE).await,
        "jwt_cutoff_passed"
    );
}

#[tokio::test]
async fn new_jwt_credentials_are_refused_after_their_cutoff() {
    let app = spawn_app().await; // contract defaults: both cutoffs are in 2023
    let response = put_jwt(&app).await;
    assert_eq!(
        error_code(response, StatusCode::CONFLICT).await,
        "jwt_registration_closed"
    );
    let token = app.token("ann@acme.example").await;
    assert_eq!(
        error_code(token, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
}

#[tokio::test]
async fn removing_the_jwt_key_turns_the_fallback_off() {
    let app = spawn_app_with(JWT_OPEN).await;
    put_jwt(&app).await;
    assert_eq!(
        app.delete("/api/v1/orgs/acme/jwt-credentials")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        error_code(app.token("ann@acme.example").await, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
    assert_eq!(
        app.delete("/api/v1/orgs/acme/jwt-credentials")
            .await
            .status(),
        StatusCode::NO_CONTENT,
        "idempotent"
    );
}

#[tokio::test]
async fn jwt_credentials_are_validated() {
    let app = spawn_app_with(JWT_OPEN).await;
    let response = app
        .send_json(
            Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": " ", "api_secret": "s" }),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_field"
    );
}

fn register_s2s(app: &TestApp) {
    app.sandbox.register_s2s_app(S2sApp {
        account_id: "acct-s2s".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
}

async fn put_s2s(app: &TestApp, secret: &str) -> reqwest::Response {
    app.send_json(
        Method::PUT,
        "/api/v1/orgs/acme/s2s-credentials",
        json!({ "email": "ops@acme.example", "account_id": "acct-s2s", "client_id": "s2s-id", "client_secret": secret }),
    )
    .await
}

#[tokio::test]
async fn s2s_credentials_are_checked_and_their_token_is_shared() {
    let app = spawn_app().await;
    register_s2s(&app);
    let refused = put_s2s(&app, "wrong").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "s2s_credentials_rejected");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("Invalid client_id or client_secret"));
    assert_eq!(
        put_s2s(&app, "s2s-secret").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.counters().account_credentials, 2);
    let first: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_eq!(first["auth_type"], "s2s");
    for _ in 0..5 {
        let again: Value = app.token("bob@acme.example").await.json().await.unwrap();
        assert_eq!(again["access_token"], first["access_token"]);
    }
    assert_eq!(
        app.counters().account_credentials,
        2,
        "no token minted per request"
    );
    app.app.clock.advance(3_600);
    let renewed: Value = app.token("ann@acme.example").await.json().await.unwrap();
    assert_ne!(renewed["access_token"], first["access_token"]);
    assert_eq!(app.counters().account_credentials, 3);
    let row = app.app.store.s2s(&app.org.id).await.unwrap().unwrap();
    assert!(row.client_secret.starts_with("tbx1.") && !row.client_secret.contains("s2s-secret"));
    assert_eq!(
        app.delete("/api/v1/orgs/acme/s2s-credentials")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        error_code(app.token("ann@acme.example").await, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
}

#[tokio::test]
async fn s2s_put_while_zoom_is_down_is_a_503() {
    let app = spawn_app().await;
    register_s2s(&app);
    app.fault("token", Some(500), 0, 1);
    assert_eq!(
        error_code(
            put_s2s(&app, "s2s-secret").await,
            StatusCode::SERVICE_UNAVAILABLE
        )
        .await,
        "upstream_unavailable"
    );
    assert!(app.app.store.s2s(&app.org.id).await.unwrap().is_none());
}

#[tokio::test]
async fn disconnect_revokes_at_zoom_then_deletes() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let token: Value = app.token("ann@acme.example").await.json().await.unwrap();
    let response = app
        .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers().get("warning").is_none());
    assert_eq!(app.counters().revoke, 1);
    let me = app
        .api
        .get(format!("{}/v2/users/me", app.sandbox_url))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        StatusCode::UNAUTHORIZED,
        "the grant is dead at Zoom"
    );
    assert!(app.connections().await.is_empty());
    assert_eq!(
        error_code(app.token("ann@acme.example").await, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
    let again = app
        .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
        .await;
    assert_eq!(error_code(again, StatusCode::NOT_FOUND).await, "not_found");
}

#[tokio::test]
async fn disconnect_deletes_locally_even_when_zoom_revoke_fails() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    app.fault("revoke", Some(500), 0, 1);
    let response = app
        .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.headers()["warning"]
        .to_str()
        .unwrap()
        .contains("revoking at Zoom failed"));
    assert!(app.connections().await.is_empty());
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["events"][0]["action"], "connection.disconnected");
    assert_eq!(audit["events"][0]["outcome"], "partial");
}

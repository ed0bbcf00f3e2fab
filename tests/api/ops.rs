use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let health = app
        .api
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = app
        .api
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], app.app.store.backend());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_upstream_calls() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    let _ = app.token("nobody@acme.example").await;
    let text = app
        .api
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("tokenbroker_http_requests_total{route=\"/api/v1/orgs/{org}/users/{email}/token\",method=\"GET\",status=\"404\"} 1"), "{text}");
    assert!(
        text.contains("tokenbroker_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(
            "tokenbroker_upstream_requests_total{endpoint=\"authorization_code\",outcome=\"ok\"} 1"
        ),
        "{text}"
    );
    // Routes, never raw URIs: the connect token must not appear as a label.
    assert!(text.contains("route=\"/connect/{token}\""), "{text}");
}

#[tokio::test]
async fn unknown_routes_answer_json() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/nope").await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn a_wrong_method_answers_json_with_allow() {
    let app = spawn_app().await;
    let response = app
        .api
        .patch(format!("{}/api/v1/orgs/acme/jwt-credentials", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "PUT,DELETE,GET,HEAD");
    assert_eq!(
        error_code(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "method_not_allowed"
    );
}

#[tokio::test]
async fn openapi_document_lists_every_contract_path() {
    let app = spawn_app().await;
    let doc: Value = app
        .api
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/connect-sessions",
        "/api/v1/orgs/{org}/users/{email}/token",
        "/api/v1/orgs/{org}/connections",
        "/api/v1/orgs/{org}/connections/{id}",
        "/api/v1/orgs/{org}/jwt-credentials",
        "/api/v1/orgs/{org}/s2s-credentials",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let huge = "x".repeat(200 * 1024);
    let response = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            serde_json::json!({ "api_key": huge, "api_secret": "s" }),
        )
        .await;
    assert_eq!(
        error_code(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
}

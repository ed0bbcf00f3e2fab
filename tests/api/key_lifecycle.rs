//! API key scopes, expiry and the `/api/v1/api-keys` endpoints;
//! `min_valid_secs`; cross-replica invalidation (PostgreSQL).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// Calls as an all-orgs key with every scope (the operator).
async fn as_operator(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let key = app.all_orgs_key().await;
    let mut req = app
        .api
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn create_key(app: &TestApp, body: Value) -> Value {
    let resp = as_operator(app, Method::POST, "/api/v1/api-keys", Some(body)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_key_without_the_needed_scope_gets_403_insufficient_scope() {
    let app = spawn_app().await;
    let created = create_key(&app, json!({"org": "acme", "scopes": ["tokens:read"]})).await;
    assert_eq!(created["scopes"], json!(["tokens:read"]));
    let key = created["key"].as_str().unwrap();
    // tokens:read reaches the token API (nobody is connected: 404, not 403).
    let token = app
        .get_as(key, "/api/v1/orgs/acme/users/a@example.com/token")
        .await;
    assert_eq!(
        error_code(token, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
    let list = app.get_as(key, "/api/v1/orgs/acme/connections").await;
    assert_eq!(list.status(), StatusCode::OK);
    for path in ["/api/v1/orgs/acme/audit", "/api/v1/api-keys"] {
        let resp = app.get_as(key, path).await;
        assert_eq!(
            error_code(resp, StatusCode::FORBIDDEN).await,
            "insufficient_scope",
            "{path}"
        );
    }
    let session = app
        .api
        .post(format!("{}/api/v1/connect-sessions", app.base))
        .bearer_auth(key)
        .json(&json!({"org": "acme", "email": "a@example.com", "app_type": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(session, StatusCode::FORBIDDEN).await,
        "insufficient_scope"
    );
    let creds = app
        .api
        .delete(format!("{}/api/v1/orgs/acme/jwt-credentials", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(creds, StatusCode::FORBIDDEN).await,
        "insufficient_scope"
    );
}

#[tokio::test]
async fn api_keys_are_created_listed_and_revoked_over_http_by_operators_only() {
    let app = spawn_app().await;
    let bad = as_operator(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"scopes": ["root"]})),
    )
    .await;
    assert_eq!(
        error_code(bad, StatusCode::BAD_REQUEST).await,
        "invalid_scopes"
    );
    let bad = as_operator(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"expires_in_secs": 5})),
    )
    .await;
    assert_eq!(
        error_code(bad, StatusCode::BAD_REQUEST).await,
        "invalid_expiry"
    );
    let array = as_operator(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!([null, null])),
    )
    .await;
    assert_eq!(
        error_code(array, StatusCode::BAD_REQUEST).await,
        "invalid_body"
    );
    let unknown_org = as_operator(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"org": "nope"})),
    )
    .await;
    assert_eq!(unknown_org.status(), StatusCode::NOT_FOUND);

    let created = create_key(
        &app,
        json!({"org": "acme", "label": "crm", "scopes": ["admin", "connect"]}),
    )
    .await;
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    assert_eq!(created["org"], "acme");
    assert_eq!(created["scopes"], json!(["connect", "admin"]));
    // An org key, even with admin, cannot manage keys.
    let resp = app.get_as(secret, "/api/v1/api-keys").await;
    assert_eq!(error_code(resp, StatusCode::FORBIDDEN).await, "forbidden");

    let listed = as_operator(&app, Method::GET, "/api/v1/api-keys?org=acme", None).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let text = listed.text().await.unwrap();
    assert!(!text.contains(&secret[20..]), "a list never shows a secret");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let row = listed["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(row["label"], "crm");
    assert!(row.get("key").is_none());

    // Used, then flushed in a batch: last_used_at appears.
    let used = app.get_as(secret, "/api/v1/orgs/acme/audit").await;
    assert_eq!(used.status(), StatusCode::OK);
    tokenbroker::tokens::flush_usage(&app.app).await.unwrap();
    let stored = app.app.store.api_key(id).await.unwrap().unwrap();
    assert!(stored.last_used_at.is_some());

    let revoked = as_operator(
        &app,
        Method::DELETE,
        &format!("/api/v1/api-keys/{id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());
    let after = app.get_as(secret, "/api/v1/orgs/acme/audit").await;
    assert_eq!(
        error_code(after, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    let missing = as_operator(
        &app,
        Method::DELETE,
        "/api/v1/api-keys/0000000000000000",
        None,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"api_key.created") && actions.contains(&"api_key.revoked"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_expired_key_gets_401_api_key_expired() {
    let app = spawn_app().await;
    let created = create_key(&app, json!({"org": "acme", "expires_in_secs": 60})).await;
    let key = created["key"].as_str().unwrap();
    assert!(created["expires_at"].is_string());
    assert_eq!(
        app.get_as(key, "/api/v1/orgs/acme/connections")
            .await
            .status(),
        StatusCode::OK
    );
    app.app.clock.advance(61);
    let resp = app.get_as(key, "/api/v1/orgs/acme/connections").await;
    assert_eq!(
        error_code(resp, StatusCode::UNAUTHORIZED).await,
        "api_key_expired"
    );
}

#[tokio::test]
async fn min_valid_secs_refreshes_first_exactly_once_and_refuses_the_impossible() {
    let app = spawn_app().await;
    app.connect("ann@example.com", "user", "member").await;
    for bad in ["-1", "3601", "abc", "1.5"] {
        let resp = app
            .get(&format!(
                "/api/v1/orgs/acme/users/ann@example.com/token?min_valid_secs={bad}"
            ))
            .await;
        assert_eq!(
            error_code(resp, StatusCode::BAD_REQUEST).await,
            "invalid_min_valid_secs",
            "{bad}"
        );
    }
    // 600 s later the token has about 3000 s left: asking for 3300 refreshes first.
    app.app.clock.advance(600);
    let before = app.counters().refresh_token;
    let calls = (0..6)
        .map(|_| app.get("/api/v1/orgs/acme/users/ann@example.com/token?min_valid_secs=3300"));
    let answers = futures::future::join_all(calls).await;
    let now = app.app.clock.now();
    let mut tokens = std::collections::HashSet::new();
    for resp in answers {
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let exp = time::OffsetDateTime::parse(
            body["expires_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(exp.unix_timestamp() - now >= 3300, "{body}");
        tokens.insert(body["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(
        app.counters().refresh_token - before,
        1,
        "exactly one refresh"
    );
    assert_eq!(tokens.len(), 1);
    // A token valid long enough is handed out as it is.
    let again = app
        .get("/api/v1/orgs/acme/users/ann@example.com/token?min_valid_secs=3000")
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(app.counters().refresh_token - before, 1);
    // 3600, a whole Zoom lifetime, is possible: a fresh token is fetched.
    let resp = app
        .get("/api/v1/orgs/acme/users/ann@example.com/token?min_valid_secs=3600")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let exp = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(exp.unix_timestamp() - app.app.clock.now() >= 3600 - 1);
}

fn is_postgres(app: &TestApp) -> bool {
    app.app.store.backend() == "postgres"
}

async fn wait_listener(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.app.invalidator.is_live() {
        assert!(Instant::now() < deadline, "the listener never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metric(api: &reqwest::Client, base: &str, line: &str) -> f64 {
    let text = api
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_disconnect_on_one_replica_stops_the_other_serving_within_200_ms() {
    let app = spawn_app().await;
    if !is_postgres(&app) {
        return; // SQLite is one process: in-process invalidation (tested above).
    }
    wait_listener(&app).await;
    let id = app.connect("bob@example.com", "user", "member").await;
    let b = app.second_server(&[]).await;
    let path = "/api/v1/orgs/acme/users/bob@example.com/token";
    let from_b = || {
        app.api
            .get(format!("{}{path}", b.base))
            .bearer_auth(&app.api_key)
            .send()
    };
    // Wait until B's listener is up (its cache then holds long), and B caches.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(from_b().await.unwrap().status(), StatusCode::OK);
    assert_eq!(from_b().await.unwrap().status(), StatusCode::OK);
    assert!(
        metric(
            &app.api,
            &b.base,
            "tokenbroker_token_cache_lookups_total{outcome=\"hit\"}"
        )
        .await
            >= 1.0
    );
    assert_eq!(
        metric(&app.api, &b.base, "tokenbroker_invalidation_listener_up").await,
        1.0
    );

    let gone = app
        .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
        .await;
    assert!(gone.status().is_success());
    let deleted = Instant::now();
    loop {
        let status = from_b().await.unwrap().status();
        if status != StatusCode::OK {
            break;
        }
        assert!(
            deleted.elapsed() < Duration::from_millis(200),
            "B still served the token after 200 ms"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("replica B stopped serving after {:?}", deleted.elapsed());
}

#[tokio::test]
async fn a_revoked_key_gets_401_on_another_replica_within_2_s() {
    let app = spawn_app().await;
    let created = create_key(&app, json!({"org": "acme"})).await;
    let (id, key) = (
        created["id"].as_str().unwrap(),
        created["key"].as_str().unwrap(),
    );
    let b = app.second_server(&[]).await;
    let on_b = || {
        app.api
            .get(format!("{}/api/v1/orgs/acme/connections", b.base))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(on_b().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        as_operator(
            &app,
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
    let revoked = Instant::now();
    loop {
        if on_b().await.unwrap().status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "B still accepted the revoked key"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

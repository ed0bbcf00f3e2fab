//! Several Zoom accounts per org: S2S and JWT entries keyed by email. A user
//! is served by the entry with their own email, else by the org's first.

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

fn register(app: &TestApp, name: &str) {
    app.sandbox.register_s2s_app(S2sApp {
        account_id: format!("acct-{name}"),
        client_id: format!("client-{name}"),
        client_secret: format!("secret-{name}"),
    });
}

async fn put_s2s(app: &TestApp, email: &str, name: &str) -> reqwest::Response {
    app.send_json(
        Method::PUT,
        "/api/v1/orgs/acme/s2s-credentials",
        json!({ "email": email, "account_id": format!("acct-{name}"),
                "client_id": format!("client-{name}"), "client_secret": format!("secret-{name}") }),
    )
    .await
}

async fn token(app: &TestApp, email: &str) -> Value {
    let response = app.token(email).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn list(app: &TestApp, kind: &str) -> Vec<Value> {
    let response = app
        .get(&format!("/api/v1/orgs/acme/{kind}-credentials"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(!text.contains("secret-"), "a secret in the list: {text}");
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn each_user_gets_their_own_accounts_s2s_token_else_the_first() {
    let app = spawn_app().await;
    register(&app, "a");
    register(&app, "b");
    assert_eq!(
        put_s2s(&app, "ops-a@acme.example", "a").await.status(),
        StatusCode::NO_CONTENT
    );
    app.app.clock.advance(1);
    assert_eq!(
        put_s2s(&app, "Ops-B@Acme.example", "b").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.counters().account_credentials, 2);

    let entries = list(&app, "s2s").await;
    let emails: Vec<&str> = entries
        .iter()
        .map(|e| e["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ops-a@acme.example", "ops-b@acme.example"]);
    assert_eq!(entries[1]["account_id"], "acct-b");
    assert_eq!(entries[1]["client_id"], "client-b");
    assert_eq!(entries[1]["status"], "ok");

    let a = token(&app, "ops-a@acme.example").await;
    let b = token(&app, "OPS-B@acme.EXAMPLE").await;
    let other = token(&app, "ann@acme.example").await;
    assert_eq!(a["auth_type"], "s2s");
    assert_eq!(a["account_email"], "ops-a@acme.example");
    assert_eq!(b["account_email"], "ops-b@acme.example");
    assert_eq!(
        other["account_email"], "ops-a@acme.example",
        "the first entry serves the rest"
    );
    assert_ne!(a["access_token"], b["access_token"]);
    assert_eq!(other["access_token"], a["access_token"]);
    assert_eq!(
        app.counters().account_credentials,
        2,
        "each entry's stored token is used"
    );

    // Upserting one entry keeps the other, and replaces its token.
    assert_eq!(
        put_s2s(&app, "ops-b@acme.example", "b").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(list(&app, "s2s").await.len(), 2);
    let b2 = token(&app, "ops-b@acme.example").await;
    assert_ne!(
        b2["access_token"], b["access_token"],
        "the cache was forgotten"
    );
    assert_eq!(
        token(&app, "ops-a@acme.example").await["access_token"],
        a["access_token"]
    );

    // Removing the first entry leaves the second, which now serves everyone.
    assert_eq!(
        app.delete("/api/v1/orgs/acme/s2s-credentials/OPS-A@acme.example")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(list(&app, "s2s").await.len(), 1);
    let now_b = token(&app, "ann@acme.example").await;
    assert_eq!(now_b["account_email"], "ops-b@acme.example");
    assert_eq!(
        token(&app, "ops-a@acme.example").await["account_email"],
        "ops-b@acme.example"
    );

    // A missing entry is a clear 404; a bad email a 400.
    let missing = app
        .delete("/api/v1/orgs/acme/s2s-credentials/ops-a@acme.example")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ops-a@acme.example"),
        "{body}"
    );
    assert_eq!(
        error_code(
            app.delete("/api/v1/orgs/acme/s2s-credentials/not-an-email")
                .await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_email"
    );

    // The bare DELETE removes every entry.
    assert_eq!(
        put_s2s(&app, "ops-a@acme.example", "a").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(list(&app, "s2s").await.len(), 2);
    assert_eq!(
        app.delete("/api/v1/orgs/acme/s2s-credentials")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(list(&app, "s2s").await.is_empty());
    assert_eq!(
        error_code(app.token("ann@acme.example").await, StatusCode::NOT_FOUND).await,
        "not_connected"
    );

    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains("account acct-b for ops-b@acme.example"),
        "{audit}"
    );
    assert!(
        audit.contains(r#""outcome":"noop","detail":"account ops-a@acme.example""#),
        "{audit}"
    );
    assert!(!audit.contains("secret-a") && !audit.contains("secret-b"));
}

#[tokio::test]
async fn another_orgs_entries_are_not_visible() {
    let app = spawn_app().await;
    register(&app, "a");
    assert_eq!(
        put_s2s(&app, "ops-a@acme.example", "a").await.status(),
        StatusCode::NO_CONTENT
    );
    let (_, other_key) = app.new_org_key("globex").await;
    assert_eq!(
        error_code(
            app.get_as(&other_key, "/api/v1/orgs/acme/s2s-credentials")
                .await,
            StatusCode::NOT_FOUND
        )
        .await,
        "not_found"
    );
    let theirs = app
        .get_as(&other_key, "/api/v1/orgs/globex/s2s-credentials")
        .await;
    assert_eq!(theirs.json::<Value>().await.unwrap(), json!([]));
}

async fn put_jwt(app: &TestApp, email: Option<&str>, key: &str) -> reqwest::Response {
    let mut body = json!({ "api_key": key, "api_secret": format!("{key}-secret") });
    if let Some(email) = email {
        body["email"] = email.into();
    }
    app.send_json(Method::PUT, "/api/v1/orgs/acme/jwt-credentials", body)
        .await
}

fn jwt_issuer(token: &Value, secret: &str) -> String {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<Value>(
        token["access_token"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap();
    decoded.claims["iss"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn jwt_entries_per_email_then_the_first() {
    let app = spawn_app_with(JWT_OPEN).await;
    assert_eq!(
        put_jwt(&app, None, "org-key").await.status(),
        StatusCode::NO_CONTENT
    );
    app.app.clock.advance(1);
    assert_eq!(
        put_jwt(&app, Some("bob@acme.example"), "bob-key")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let bob = token(&app, "bob@acme.example").await;
    assert_eq!(bob["auth_type"], "jwt");
    assert_eq!(bob["account_email"], "bob@acme.example");
    assert_eq!(jwt_issuer(&bob, "bob-key-secret"), "bob-key");
    let ann = token(&app, "ann@acme.example").await;
    assert!(ann["account_email"].is_null(), "{ann}");
    assert_eq!(jwt_issuer(&ann, "org-key-secret"), "org-key");

    let entries = list(&app, "jwt").await;
    assert_eq!(entries.len(), 2);
    assert!(entries[0]["email"].is_null());
    assert_eq!(entries[1]["email"], "bob@acme.example");
    assert_eq!(entries[1]["api_key_hint"], "bob-…");
    assert_eq!(entries[1]["status"], "jwt_expiring");
    assert!(entries[1]["days_left"].as_i64().unwrap() > 0);

    // Upsert keeps the other entry.
    assert_eq!(
        put_jwt(&app, Some("BOB@acme.example"), "bob-key2")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(list(&app, "jwt").await.len(), 2);
    assert_eq!(
        jwt_issuer(&token(&app, "bob@acme.example").await, "bob-key2-secret"),
        "bob-key2"
    );

    assert_eq!(
        error_code(
            put_jwt(&app, Some("nope"), "k").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_email"
    );
    assert_eq!(
        app.delete("/api/v1/orgs/acme/jwt-credentials/bob@acme.example")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        jwt_issuer(&token(&app, "bob@acme.example").await, "org-key-secret"),
        "org-key"
    );
    assert_eq!(
        error_code(
            app.delete("/api/v1/orgs/acme/jwt-credentials/bob@acme.example")
                .await,
            StatusCode::NOT_FOUND
        )
        .await,
        "not_found"
    );
    assert_eq!(
        error_code(
            app.delete("/api/v1/orgs/acme/jwt-credentials/bob").await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_email"
    );

    // Past the cutoff, every JWT entry says so, and the report counts them.
    assert_eq!(
        put_jwt(&app, Some("cy@acme.example"), "cy-key")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.app.clock.advance(80 * 365 * 86_400);
    let entries = list(&app, "jwt").await;
    assert!(
        entries.iter().all(|e| e["status"] == "jwt_expired"),
        "{entries:?}"
    );
    assert!(entries[0]["days_left"].as_i64().unwrap() < 0);
    let all = app.all_orgs_key().await;
    let report: Value = app
        .get_as(&all, "/api/v1/migration-report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["account_totals"]["jwt_expired"], 2, "{report}");
    assert_eq!(report["account_totals"]["jwt_expiring"], 0);
    let lines = report["accounts"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["org"] == "acme"
        && l["email"] == "cy@acme.example"
        && l["auth_type"] == "jwt"
        && l["status"] == "jwt_expired"));
    assert_eq!(report["totals"]["jwt_expired"], 1, "orgs are still counted");

    assert_eq!(
        app.delete("/api/v1/orgs/acme/jwt-credentials")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert!(list(&app, "jwt").await.is_empty());
}

#[tokio::test]
async fn the_report_counts_and_lists_accounts() {
    let app = spawn_app_with(JWT_OPEN).await;
    register(&app, "a");
    register(&app, "b");
    put_s2s(&app, "ops-a@acme.example", "a").await;
    put_s2s(&app, "ops-b@acme.example", "b").await;
    put_jwt(&app, Some("old@acme.example"), "old-key").await;
    let all = app.all_orgs_key().await;
    let report: Value = app
        .get_as(&all, "/api/v1/migration-report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["account_totals"],
        json!({ "s2s": 2, "jwt_expiring": 1, "jwt_expired": 0 })
    );
    let mut lines: Vec<String> = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {} {}",
                l["org"], l["email"], l["auth_type"], l["status"]
            )
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            r#""acme" "old@acme.example" "jwt" "jwt_expiring""#,
            r#""acme" "ops-a@acme.example" "s2s" "ok""#,
            r#""acme" "ops-b@acme.example" "s2s" "ok""#,
        ]
    );
    assert_eq!(report["totals"]["s2s"], 1, "one org on S2S");
}

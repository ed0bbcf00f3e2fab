//! An org's own Zoom OAuth app: set, shown without secrets, used for every
//! step of its org's grants, kept by each connection, refused while in use,
//! and its own webhook URL. The sandbox knows each client's secret, so a
//! call made with the wrong app's credentials fails there.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use tokenbroker::crypto::hmac_hex;
use tokenbroker::sandbox::ClientApp;
use tokenbroker::zoom::webhook_signature;

use crate::helpers::{
    browser, error_code, location, spawn_app, submit_link_page, TestApp, CLIENT_ID, WEBHOOK_SECRET,
};

const OWN_ID: &str = "acme-own-client";
const OWN_SECRET: &str = "acme-own-client-secret-0001";
const OWN_HOOK: &str = "acme-own-webhook-token-0001";
const PATH: &str = "/api/v1/orgs/acme/oauth-app";

/// Registers the org's app at the sandbox Zoom (its own secret, redirect
/// URI and webhook) and sets it on `acme`.
async fn own_app(app: &TestApp, secret: &str) {
    app.sandbox.register_client(ClientApp {
        client_id: OWN_ID.into(),
        client_secret: secret.into(),
        redirect_uris: vec![app.app.config.redirect_uri()],
    });
    app.sandbox.set_client_webhook(
        OWN_ID,
        &format!("{}/webhooks/zoom/acme", app.base),
        OWN_HOOK,
    );
    let put = app
        .send_json(
            Method::PUT,
            PATH,
            json!({ "client_id": OWN_ID, "client_secret": secret, "app_type": "user",
                    "webhook_secret_token": OWN_HOOK }),
        )
        .await;
    assert_eq!(
        put.status(),
        StatusCode::NO_CONTENT,
        "{}",
        put.text().await.unwrap()
    );
}

/// The `client_id` the connect link sends the browser to Zoom with.
async fn authorize_client_id(app: &TestApp, key: &str, org: &str, app_type: &str) -> String {
    let session: Value = app
        .api
        .post(format!("{}/api/v1/connect-sessions", app.base))
        .bearer_auth(key)
        .json(&json!({ "org": org, "email": "x@acme.example", "app_type": app_type }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to_zoom = submit_link_page(&browser(), session["url"].as_str().unwrap()).await;
    let authorize = url::Url::parse(&location(&to_zoom)).unwrap();
    authorize
        .query_pairs()
        .find(|(k, _)| k == "client_id")
        .unwrap()
        .1
        .into_owned()
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_orgs_own_app_serves_authorize_exchange_refresh_and_revoke() {
    let app = spawn_app().await;
    own_app(&app, OWN_SECRET).await;
    let shown = app.get(PATH).await;
    assert_eq!(shown.status(), StatusCode::OK);
    let text = shown.text().await.unwrap();
    assert!(
        !text.contains(OWN_SECRET) && !text.contains(OWN_HOOK),
        "{text}"
    );
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["client_id"], OWN_ID);
    assert_eq!(shown["app_type"], "user");
    assert_eq!(
        shown["redirect_url"],
        format!("{}/oauth/callback", app.base)
    );
    assert_eq!(
        shown["webhook_url"],
        format!("{}/webhooks/zoom/acme", app.base)
    );
    assert_eq!(shown["webhook_secret_set"], true);

    // Authorize carries the org's client id; account sessions keep the deployment's app.
    assert_eq!(
        authorize_client_id(&app, &app.api_key, "acme", "user").await,
        OWN_ID
    );
    assert_eq!(
        authorize_client_id(&app, &app.api_key, "acme", "account").await,
        CLIENT_ID
    );
    // Exchange: the sandbox accepts the code only with the org app's secret.
    let id = app.connect("ann@acme.example", "user", "Member").await;
    // Refresh: the grant belongs to the org's client, so the deployment's would be refused.
    app.app.clock.advance(3_600);
    let token = app.token("ann@acme.example").await;
    assert_eq!(token.status(), StatusCode::OK);
    assert_eq!(app.counters().refresh_token, 1);
    // Revoke on disconnect, at the org's client: the grant is dead at Zoom.
    let live = app.sandbox.live_grants();
    let gone = app
        .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert!(gone.headers().get("warning").is_none(), "revoke failed");
    assert_eq!(app.counters().revoke, 1);
    assert_eq!(app.sandbox.live_grants(), live - 1);
}

#[tokio::test]
async fn a_connection_keeps_its_app_and_other_orgs_keep_the_deployments() {
    let app = spawn_app().await;
    let (_globex, globex_key) = app.new_org_key("globex").await;
    own_app(&app, OWN_SECRET).await;
    app.connect("ann@acme.example", "user", "Member").await;
    assert_eq!(
        authorize_client_id(&app, &globex_key, "globex", "user").await,
        CLIENT_ID
    );

    // Secret rotation: Zoom issues a new secret, the org sets it; same app, same connection.
    own_app(&app, "acme-own-client-secret-0002").await;
    app.app.clock.advance(3_600);
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    assert_eq!(app.counters().refresh_token, 1);

    // Another client id (or type) while ann's connection uses the app: refused, with the count.
    let other = app
        .send_json(
            Method::PUT,
            PATH,
            json!({ "client_id": "another", "client_secret": "s", "app_type": "user" }),
        )
        .await;
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["error"], "app_in_use", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("1 active connection"),
        "{body}"
    );
    let retyped = app
        .send_json(
            Method::PUT,
            PATH,
            json!({ "client_id": OWN_ID, "client_secret": "s", "app_type": "account" }),
        )
        .await;
    assert_eq!(
        error_code(retyped, StatusCode::CONFLICT).await,
        "app_in_use"
    );
    let shown: Value = app.get(PATH).await.json().await.unwrap();
    assert_eq!(shown["client_id"], OWN_ID);
    assert_eq!(shown["app_type"], "user");
}

#[tokio::test]
async fn removing_an_app_in_use_is_refused_with_the_count_then_allowed() {
    let app = spawn_app().await;
    // Idempotent when there is none; GET says there is none.
    assert_eq!(app.delete(PATH).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        error_code(app.get(PATH).await, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    own_app(&app, OWN_SECRET).await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let bob = app.connect("bob@acme.example", "user", "Member").await;
    let refused = app.delete(PATH).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "app_in_use");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("2 active connections"),
        "{body}"
    );
    assert_eq!(app.get(PATH).await.status(), StatusCode::OK);

    for id in [ann, bob] {
        let gone = app
            .delete(&format!("/api/v1/orgs/acme/connections/{id}"))
            .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.delete(PATH).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(PATH).await.status(), StatusCode::NOT_FOUND);
    // New sessions use the deployment's app again, end to end.
    assert_eq!(
        authorize_client_id(&app, &app.api_key, "acme", "user").await,
        CLIENT_ID
    );
    app.connect("cy@acme.example", "user", "Member").await;

    let actions = audit_actions(&app).await;
    for expected in [
        ("oauth_app.set", "success"),
        ("oauth_app.removed", "refused"),
        ("oauth_app.removed", "success"),
        ("oauth_app.removed", "noop"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, o)| (a.as_str(), o.as_str()) == expected),
            "{expected:?} not audited: {actions:?}"
        );
    }
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(OWN_SECRET) && !audit.contains(OWN_HOOK));
}

#[tokio::test]
async fn a_connection_whose_app_was_removed_must_authorize_again() {
    let app = spawn_app().await;
    own_app(&app, OWN_SECRET).await;
    app.connect("ann@acme.example", "user", "Member").await;
    // The user removes the app in Zoom: the connection is revoked, so it no longer blocks.
    let deauth: Value = app
        .api
        .post(format!("{}/_sandbox/deauthorize", app.sandbox_url))
        .json(&json!({ "email": "ann@acme.example" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        deauth["deliveries"],
        json!([204]),
        "sent to the org's own webhook URL"
    );
    assert_eq!(app.connections().await[0]["status"], "revoked");
    assert_eq!(app.delete(PATH).await.status(), StatusCode::NO_CONTENT);
    // Re-authorizing moves the connection to the deployment's app.
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_input_is_refused_with_400s() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "client_secret": "s", "app_type": "user" }),
            "invalid_body",
        ),
        (
            json!({ "client_id": "c", "client_secret": "s", "app_type": "both" }),
            "invalid_body",
        ),
        (
            json!({ "client_id": "c", "client_secret": "s" }),
            "invalid_body",
        ),
        (
            json!({ "client_id": "c", "client_secret": "", "app_type": "user" }),
            "invalid_field",
        ),
        (
            json!({ "client_id": "  ", "client_secret": "s", "app_type": "user" }),
            "invalid_field",
        ),
        (
            json!({ "client_id": "c", "client_secret": "s", "app_type": "user",
                    "webhook_secret_token": " " }),
            "invalid_field",
        ),
        (
            json!({ "client_id": "c", "client_secret": "s", "app_type": "user",
                    "webhook_secret_token": null }),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let response = app.send_json(Method::PUT, PATH, body.clone()).await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            code,
            "{body}"
        );
    }
    assert_eq!(app.get(PATH).await.status(), StatusCode::NOT_FOUND);
    // Another org's app is out of this key's reach.
    let (_globex, _) = app.new_org_key("globex").await;
    let elsewhere = app
        .send_json(
            Method::PUT,
            "/api/v1/orgs/globex/oauth-app",
            json!({ "client_id": "c", "client_secret": "s", "app_type": "user" }),
        )
        .await;
    assert_eq!(
        error_code(elsewhere, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

async fn post_webhook(app: &TestApp, org: &str, secret: &str, body: &Value) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let ts = app.app.clock.now().to_string();
    app.api
        .post(format!("{}/webhooks/zoom/{org}", app.base))
        .header("content-type", "application/json")
        .header("x-zm-request-timestamp", &ts)
        .header("x-zm-signature", webhook_signature(secret, &ts, &raw))
        .body(raw)
        .send()
        .await
        .unwrap()
}

fn deauth(user_id: &str, account_id: &str, client_id: &str) -> Value {
    json!({ "event": "app_deauthorized", "payload": {
        "account_id": account_id, "user_id": user_id, "client_id": client_id,
        "signature": uuid::Uuid::new_v4().to_string() } })
}

#[tokio::test]
async fn webhooks_per_org_use_the_org_apps_secret_token() {
    let app = spawn_app().await;
    let plain =
        json!({ "event": "endpoint.url_validation", "payload": { "plainToken": "abc123" } });
    // Unknown org, and an org without an app of its own.
    let unknown = post_webhook(&app, "nobody", OWN_HOOK, &plain).await;
    assert_eq!(
        error_code(unknown, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let none = post_webhook(&app, "acme", OWN_HOOK, &plain).await;
    assert_eq!(error_code(none, StatusCode::NOT_FOUND).await, "not_found");
    // An app without a webhook secret token.
    let put = app
        .send_json(
            Method::PUT,
            PATH,
            json!({ "client_id": OWN_ID, "client_secret": OWN_SECRET, "app_type": "user" }),
        )
        .await;
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let off = post_webhook(&app, "acme", OWN_HOOK, &plain).await;
    assert_eq!(
        error_code(off, StatusCode::CONFLICT).await,
        "webhooks_disabled"
    );

    own_app(&app, OWN_SECRET).await;
    let valid = post_webhook(&app, "acme", OWN_HOOK, &plain).await;
    assert_eq!(valid.status(), StatusCode::OK);
    let answer: Value = valid.json().await.unwrap();
    assert_eq!(answer["encryptedToken"], hmac_hex(OWN_HOOK, b"abc123"));
    // The deployment's token does not sign for the org's app.
    let wrong = post_webhook(&app, "acme", WEBHOOK_SECRET, &plain).await;
    assert_eq!(
        error_code(wrong, StatusCode::UNAUTHORIZED).await,
        "invalid_signature"
    );

    // ann with the org's app; bob on globex with the deployment's app (same Zoom user id space).
    app.connect("ann@acme.example", "user", "Member").await;
    let ann = app.connections().await.remove(0);
    let user_id = ann["zoom_user_id"].as_str().unwrap().to_string();
    let account_id = ann["zoom_account_id"].as_str().unwrap().to_string();
    // An event for the deployment's client on the org's URL changes nothing.
    let other = post_webhook(
        &app,
        "acme",
        OWN_HOOK,
        &deauth(&user_id, &account_id, CLIENT_ID),
    )
    .await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    // Nor does the deployment's URL reach a connection made with the org's app.
    let raw = serde_json::to_vec(&deauth(&user_id, &account_id, CLIENT_ID)).unwrap();
    let ts = app.app.clock.now().to_string();
    let global = app
        .api
        .post(format!("{}/webhooks/zoom", app.base))
        .header("content-type", "application/json")
        .header("x-zm-request-timestamp", &ts)
        .header(
            "x-zm-signature",
            webhook_signature(WEBHOOK_SECRET, &ts, &raw),
        )
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(global.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "active");
    // The org app's own event, signed with its token, revokes it.
    let event = deauth(&user_id, &account_id, OWN_ID);
    let done = post_webhook(&app, "acme", OWN_HOOK, &event).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "revoked");
    // A replay changes nothing and is still acknowledged.
    assert_eq!(
        post_webhook(&app, "acme", OWN_HOOK, &event).await.status(),
        StatusCode::NO_CONTENT
    );
}

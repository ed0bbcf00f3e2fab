//! A hostile tenant, replayed webhooks and mixed-up issuers must neither move
//! a grant across orgs nor destroy one.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use tokenbroker::sandbox::ClientApp;
use tokenbroker::zoom::webhook_signature;

use crate::helpers::{
    browser, location, spawn_app, spawn_app_with, submit_link_page, TestApp, RETURN_ORIGIN,
    WEBHOOK_SECRET,
};

const ACCOUNT_CLIENT: &str = "test-account-client";
const ACCOUNT_SECRET: &str = "test-account-secret";

/// Runs the whole browser flow for a session of `org` (with `key`) and
/// returns the query pairs `return_to` received.
async fn authorize(
    app: &TestApp,
    key: &str,
    org: &str,
    crm_email: &str,
    app_type: &str,
    zoom_email: &str,
    role: &str,
) -> HashMap<String, String> {
    let session: Value = app
        .api
        .post(format!("{}/api/v1/connect-sessions", app.base))
        .bearer_auth(key)
        .json(
            &json!({ "org": org, "email": crm_email, "app_type": app_type,
            "return_to": format!("{RETURN_ORIGIN}/zoom/done?status=stale&keep=1") }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b = browser();
    let url = session["url"].as_str().expect("a connect URL").to_string();
    let callback = app.consent(&b, &url, zoom_email, role, "allow").await;
    let done = b.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = url::Url::parse(&location(&done)).unwrap();
    let statuses = back.query_pairs().filter(|(k, _)| k == "status").count();
    assert_eq!(statuses, 1, "return_to carries one status: {back}");
    back.query_pairs().into_owned().collect()
}

async fn audit_text(app: &TestApp, key: &str, org: &str) -> String {
    app.api
        .get(format!("{}/api/v1/orgs/{org}/audit", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn another_zoom_account_cannot_take_over_an_account_connection() {
    let app = spawn_app().await;
    let key = app.api_key.clone();
    let first = authorize(
        &app,
        &key,
        "acme",
        "admin@acme.example",
        "account",
        "admin@acme.example",
        "Owner",
    )
    .await;
    assert_eq!(first["status"], "connected");
    assert_eq!(first["keep"], "1");
    let revokes_before = app.counters().revoke;

    // The Owner of another Zoom account completes an account-level session.
    let hostile = authorize(
        &app,
        &key,
        "acme",
        "boss@globex.example",
        "account",
        "boss@globex.example",
        "Owner",
    )
    .await;
    assert_eq!(hostile["status"], "account_mismatch");
    let connections = app.connections().await;
    assert_eq!(connections.len(), 1, "nothing stored: {connections:?}");
    assert_eq!(connections[0]["id"], first["connection_id"].as_str());
    assert_eq!(
        app.counters().revoke,
        revokes_before + 1,
        "the refused grant is revoked at Zoom"
    );
    assert!(audit_text(&app, &key, "acme")
        .await
        .contains("authorization.account_mismatch"));
    // Org members still get account A's token.
    let token: Value = app.token("zed@acme.example").await.json().await.unwrap();
    assert_eq!(token["connection_id"], first["connection_id"].as_str());

    // Account A re-authorizes in place; after a disconnect, B may connect.
    let again = authorize(
        &app,
        &key,
        "acme",
        "admin@acme.example",
        "account",
        "admin@acme.example",
        "Admin",
    )
    .await;
    assert_eq!(again["connection_id"], first["connection_id"]);
    let gone = app
        .delete(&format!(
            "/api/v1/orgs/acme/connections/{}",
            first["connection_id"]
        ))
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let moved = authorize(
        &app,
        &key,
        "acme",
        "boss@globex.example",
        "account",
        "boss@globex.example",
        "Owner",
    )
    .await;
    assert_eq!(moved["status"], "connected");
}

#[tokio::test]
async fn a_forced_email_mismatch_does_not_revoke_the_victims_grant_nor_name_them() {
    let app = spawn_app().await;
    let victim = app.connect("ann@acme.example", "user", "Member").await;
    let (_, hostile_key) = app.new_org_key("globex").await;
    // Another tenant drives Ann's browser through its own link; Zoom approves
    // silently for her, so the grant is Ann's, not the session's user.
    let forced = authorize(
        &app,
        &hostile_key,
        "globex",
        "mallory@globex.example",
        "user",
        "ann@acme.example",
        "Member",
    )
    .await;
    assert_eq!(forced["status"], "email_mismatch");
    assert_eq!(
        app.counters().revoke,
        0,
        "revoking would uninstall the app for Ann everywhere"
    );
    let token = app.token("ann@acme.example").await;
    assert_eq!(token.status(), StatusCode::OK);
    assert_eq!(
        token.json::<Value>().await.unwrap()["connection_id"],
        victim.as_str()
    );
    let hostile_audit = audit_text(&app, &hostile_key, "globex").await;
    assert!(
        hostile_audit.contains("authorization.email_mismatch"),
        "{hostile_audit}"
    );
    for name in ["ann", "a***@acme.example", "acme.example"] {
        assert!(
            !hostile_audit.contains(name),
            "{name} leaked into another org's audit: {hostile_audit}"
        );
    }
    // Without an active grant elsewhere, a mismatched grant is still revoked.
    let stranger = authorize(
        &app,
        &hostile_key,
        "globex",
        "mallory@globex.example",
        "user",
        "bob@acme.example",
        "Member",
    )
    .await;
    assert_eq!(stranger["status"], "email_mismatch");
    assert_eq!(app.counters().revoke, 1);
}

#[tokio::test]
async fn a_connect_link_alone_never_reaches_zoom() {
    let app = spawn_app().await;
    let url = app.connect_url("ann@acme.example", "user", None).await;
    let page = browser().get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("acme") && text.contains("ann@acme.example"),
        "{text}"
    );
    let token = crate::helpers::form_token(&text);
    // A third-party page posts the form cross-site: no Strict cookie, a foreign Origin.
    let forged = browser()
        .post(&url)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("form_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get("location").is_none());
    // The link is still good for its owner.
    assert_eq!(
        submit_link_page(&browser(), &url).await.status(),
        StatusCode::SEE_OTHER
    );
}

async fn post_event(app: &TestApp, body: &[u8]) -> StatusCode {
    let ts = app.app.clock.now().to_string();
    app.api
        .post(format!("{}/webhooks/zoom", app.base))
        .header("content-type", "application/json")
        .header("x-zm-request-timestamp", &ts)
        .header(
            "x-zm-signature",
            webhook_signature(WEBHOOK_SECRET, &ts, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

fn deauth_event(
    client_id: &str,
    user_id: &str,
    account_id: &str,
    at: i64,
    signature: &str,
) -> Vec<u8> {
    serde_json::to_vec(&json!({ "event": "app_deauthorized", "payload": {
        "client_id": client_id, "user_id": user_id, "account_id": account_id,
        "signature": signature, "deauthorization_time": tokenbroker::domain::rfc3339(at) } }))
    .unwrap()
}

#[tokio::test]
async fn replayed_or_late_deauthorizations_never_wipe_a_newer_grant() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    let row = app.connections().await.remove(0);
    let (user, account) = (
        row["zoom_user_id"].as_str().unwrap(),
        row["zoom_account_id"].as_str().unwrap(),
    );
    let event = deauth_event(
        crate::helpers::CLIENT_ID,
        user,
        account,
        app.app.clock.now(),
        "sig-1",
    );
    assert_eq!(post_event(&app, &event).await, StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "revoked");

    // Ann authorizes again a second later; the same signed event comes back
    // (a replay within its window, or Zoom's retry).
    app.app.clock.advance(1);
    app.connect("ann@acme.example", "user", "Member").await;
    assert_eq!(post_event(&app, &event).await, StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "active");
    // A different event dated before the new grant is about the old one.
    let late = deauth_event(
        crate::helpers::CLIENT_ID,
        user,
        account,
        app.app.clock.now() - 60,
        "sig-2",
    );
    assert_eq!(post_event(&app, &late).await, StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "active");
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    // A new removal does revoke.
    app.app.clock.advance(1);
    let fresh = deauth_event(
        crate::helpers::CLIENT_ID,
        user,
        account,
        app.app.clock.now(),
        "sig-3",
    );
    assert_eq!(post_event(&app, &fresh).await, StatusCode::NO_CONTENT);
    assert_eq!(app.connections().await[0]["status"], "revoked");
}

#[tokio::test]
async fn removing_the_admin_managed_app_revokes_the_account_in_every_org() {
    let app = spawn_app_with(&[
        ("ZOOM_ACCOUNT_CLIENT_ID", ACCOUNT_CLIENT),
        ("ZOOM_ACCOUNT_CLIENT_SECRET", ACCOUNT_SECRET),
    ])
    .await;
    app.sandbox.register_client(ClientApp {
        client_id: ACCOUNT_CLIENT.into(),
        client_secret: ACCOUNT_SECRET.into(),
        redirect_uris: vec![app.app.config.redirect_uri()],
    });
    let key = app.api_key.clone();
    let (_, globex_key) = app.new_org_key("globex").await;
    let acme = authorize(
        &app,
        &key,
        "acme",
        "admin@acme.example",
        "account",
        "admin@acme.example",
        "Owner",
    )
    .await;
    let globex = authorize(
        &app,
        &globex_key,
        "globex",
        "it@acme.example",
        "account",
        "it@acme.example",
        "Admin",
    )
    .await;
    assert_eq!(
        acme["status"],
        "connected",
        "{}",
        audit_text(&app, &key, "acme").await
    );
    assert_eq!(
        globex["status"],
        "connected",
        "{}",
        audit_text(&app, &globex_key, "globex").await
    );
    let account = app.connections().await[0]["zoom_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A third admin of that Zoom account removes the admin-managed app.
    let event = deauth_event(
        ACCOUNT_CLIENT,
        "u_third_admin",
        &account,
        app.app.clock.now(),
        "sig-acct",
    );
    assert_eq!(post_event(&app, &event).await, StatusCode::NO_CONTENT);
    for (k, org) in [(&key, "acme"), (&globex_key, "globex")] {
        let rows: Value = app
            .api
            .get(format!("{}/api/v1/orgs/{org}/connections", app.base))
            .bearer_auth(k)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rows["connections"][0]["status"], "revoked", "{org}: {rows}");
    }
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused_before_any_exchange() {
    let app = spawn_app().await;
    let (b, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    let mixed_up = format!("{callback}&iss={}", url_escape("https://evil.example"));
    let page = b.get(&mixed_up).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("issuer"));
    assert_eq!(app.counters().authorization_code, 0);
    assert!(app.connections().await.is_empty());
    let (b, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    let ok = b
        .get(format!("{callback}&iss={}", url_escape(&app.sandbox_url)))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(app.connections().await.len(), 1);
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn emails_fold_ascii_case_only() {
    let app = spawn_app().await;
    // The Kelvin sign lower-cases to "k" under Unicode rules.
    let (b, callback) = app
        .consented(
            "kate@acme.example",
            "user",
            "\u{212A}ate@acme.example",
            "Member",
            "allow",
        )
        .await;
    let page = b.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(app.connections().await.is_empty());
    let (b, callback) = app
        .consented(
            "kate@acme.example",
            "user",
            "KATE@Acme.Example",
            "Member",
            "allow",
        )
        .await;
    assert_eq!(
        b.get(&callback).send().await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_answers_are_never_cached_and_odd_methods_share_one_series() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    let token = app.token("ann@acme.example").await;
    assert_eq!(token.headers()["cache-control"], "no-store");
    let (admin, _) = app.admin_browser("admin@acme.example").await;
    let overview = admin
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(overview.headers()["cache-control"], "no-store");
    for method in ["FOO", "BAR", "PROPFIND"] {
        app.api
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/healthz", app.base),
            )
            .send()
            .await
            .unwrap();
    }
    let metrics = app
        .api
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
    for odd in ["FOO", "BAR", "PROPFIND"] {
        assert!(
            !metrics.contains(&format!("method=\"{odd}\"")),
            "{odd} made its own series"
        );
    }
}

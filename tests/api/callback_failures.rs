//! Every way a callback can fail: nothing active is stored, and no code is
//! exchanged when none should be.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{browser, spawn_app, TestApp};

/// No connection row and no token anywhere in the store, and no grant left
/// alive at Zoom.
async fn assert_nothing_stored(app: &TestApp) {
    assert_no_tokens_stored(app).await;
    assert_eq!(
        app.sandbox.live_grants(),
        0,
        "a refused grant is alive at Zoom"
    );
}

/// No connection row and no token anywhere in the store.
async fn assert_no_tokens_stored(app: &TestApp) {
    let connections = app.connections().await;
    assert!(connections.is_empty(), "{connections:?}");
    let column = tokenbroker::crypto::SealedColumn::CONNECTION_ACCESS_TOKEN;
    let sealed = app.app.store.sealed_cells(column, "", 10).await.unwrap();
    assert!(sealed.is_empty(), "a token is stored");
    let column = tokenbroker::crypto::SealedColumn::CONNECTION_REFRESH_TOKEN;
    let sealed = app.app.store.sealed_cells(column, "", 10).await.unwrap();
    assert!(sealed.is_empty(), "a refresh token is stored");
}

#[tokio::test]
async fn email_mismatch_shows_oops_revokes_and_stores_nothing() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "zed@other.example",
            "Member",
            "allow",
        )
        .await;
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    let text = page.text().await.unwrap();
    assert!(text.contains("Oops"), "{text}");
    assert!(text.contains("ann@acme.example"));
    assert!(
        text.contains("z***@other.example") && !text.contains("zed@other.example"),
        "Zoom email is masked"
    );
    assert_nothing_stored(&app).await;
    assert_eq!(app.counters().authorization_code, 1);
    assert_eq!(
        app.counters().revoke,
        1,
        "the refused grant is revoked at Zoom"
    );
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(audit["events"][0]["action"], "authorization.email_mismatch");
}

#[tokio::test]
async fn a_member_cannot_install_an_account_app() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "account",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.unwrap().contains("Zoom admin"));
    assert_nothing_stored(&app).await;
    assert_eq!(app.counters().revoke, 1);
}

#[tokio::test]
async fn a_member_via_return_to_gets_not_admin() {
    let app = spawn_app().await;
    let browser = browser();
    let url = app
        .connect_url(
            "ann@acme.example",
            "account",
            Some("https://crm.example.com/back"),
        )
        .await;
    let callback = app
        .consent(&browser, &url, "ann@acme.example", "Member", "allow")
        .await;
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(
        crate::helpers::location(&response),
        "https://crm.example.com/back?status=not_admin"
    );
}

#[tokio::test]
async fn a_replayed_callback_is_refused_and_the_code_is_exchanged_once() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    assert_eq!(
        browser.get(&callback).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The binding cookie is gone after use; a replay with a fresh browser fails too.
    assert_eq!(
        browser.get(&callback).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        crate::helpers::browser()
            .get(&callback)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.counters().authorization_code, 1);
    assert_eq!(app.connections().await.len(), 1);
}

#[tokio::test]
async fn forged_state_is_refused_without_an_exchange() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    let mut forged = url::Url::parse(&callback).unwrap();
    let code: String = forged
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    forged.set_query(Some(&format!("code={code}&state=forged-state-value")));
    let page = browser.get(forged).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.counters().authorization_code, 0);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_callback_without_state_explains_marketplace_installs() {
    let app = spawn_app().await;
    let page = browser()
        .get(format!("{}/oauth/callback?code=abc", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("Start from your CRM"));
    assert_eq!(app.counters().authorization_code, 0);
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused() {
    let app = spawn_app().await;
    let url = app.connect_url("ann@acme.example", "user", None).await;
    let callback = app
        .consent(&browser(), &url, "ann@acme.example", "Member", "allow")
        .await;
    let page = browser().get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("different browser"));
    assert_eq!(app.counters().authorization_code, 0);
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn connect_links_are_single_use_and_expire() {
    let app = spawn_app().await;
    let url = app.connect_url("ann@acme.example", "user", None).await;
    // Looking at the page uses nothing: twice is fine, and it never redirects.
    for _ in 0..2 {
        let page = browser().get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers().get("location").is_none());
    }
    assert_eq!(
        crate::helpers::submit_link_page(&browser(), &url)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let again = browser().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again.text().await.unwrap().contains("start again"));
    let resubmitted = crate::helpers::submit_link_page(&browser(), &url).await;
    assert_eq!(resubmitted.status(), StatusCode::GONE);
    let stale = app.connect_url("ann@acme.example", "user", None).await;
    app.app.clock.advance(601);
    let expired = browser().get(&stale).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::GONE);
    assert!(expired.text().await.unwrap().contains("expired"));
    let unknown = browser()
        .get(format!("{}/connect/not-a-token", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_authorization_left_too_long_expires() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    app.app.clock.advance(601);
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("expired"));
    assert_eq!(app.counters().authorization_code, 0);
}

#[tokio::test]
async fn zoom_token_endpoint_failing_or_timing_out_stores_nothing() {
    let app = spawn_app().await;
    for (status, delay_ms, expect) in [
        (Some(500), 0, StatusCode::BAD_GATEWAY),
        (None, 2_500, StatusCode::BAD_GATEWAY),
        (Some(400), 0, StatusCode::BAD_REQUEST),
    ] {
        let (browser, callback) = app
            .consented(
                "ann@acme.example",
                "user",
                "ann@acme.example",
                "Member",
                "allow",
            )
            .await;
        app.fault("token", status, delay_ms, 1);
        let page = browser.get(&callback).send().await.unwrap();
        assert_eq!(page.status(), expect);
        let text = page.text().await.unwrap();
        assert!(!text.contains("{\""), "never raw JSON: {text}");
        // A timed-out exchange may have created the grant at Zoom; we never
        // saw a token, so there is nothing we could revoke.
        assert_no_tokens_stored(&app).await;
    }
}

#[tokio::test]
async fn zoom_refusing_the_code_shows_its_reason() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    app.sandbox.add_fault(tokenbroker::sandbox::Fault {
        endpoint: "token".into(),
        status: Some(400),
        delay_ms: 0,
        count: 1,
        error: Some("invalid_grant".into()),
        reason: Some("Invalid authorization code <b>x</b>".into()),
        drop_connection: false,
    });
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("Invalid authorization code &lt;b&gt;x&lt;/b&gt;"),
        "{text}"
    );
}

#[tokio::test]
async fn users_me_failing_revokes_and_stores_nothing() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    app.fault("users_me", Some(500), 0, 1);
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
    assert_nothing_stored(&app).await;
    assert_eq!(app.counters().revoke, 1);
}

/// Ann consents, and the callback comes back with Zoom's `error` and this
/// `error_description` instead of a code; returns the page's text.
async fn callback_with_zoom_error(app: &TestApp, description: &str) -> String {
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    let state: String = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut evil = url::Url::parse(&format!("{}/oauth/callback", app.base)).unwrap();
    evil.query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", "server_error")
        .append_pair("error_description", description);
    browser
        .get(evil)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn zoom_errors_in_the_query_are_escaped() {
    let app = spawn_app().await;
    let text = callback_with_zoom_error(&app, "<script>alert(1)</script>").await;
    assert!(!text.contains("<script>alert(1)"), "{text}");
    assert!(text.contains("&lt;script&gt;"));
    assert_eq!(app.counters().authorization_code, 0);
}

/// PostgreSQL cannot store NUL, and a line break would forge a line of the
/// log: Zoom's text is kept in the audit log with both escaped, never lost.
#[tokio::test]
async fn zoom_error_text_with_nul_and_line_breaks_is_audited_escaped() {
    let app = spawn_app().await;
    callback_with_zoom_error(&app, "bad\0thing\nforged: line").await;
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    let failed = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "authorization.failed")
        .unwrap_or_else(|| panic!("no authorization.failed event: {audit}"));
    assert_eq!(failed["detail"], "Zoom: bad\\0thing\\nforged: line");
}

#[tokio::test]
async fn a_session_for_an_app_type_without_a_zoom_app_is_refused() {
    let app = crate::helpers::spawn_app_with(&[("ZOOM_CLIENT_ID", "")]).await;
    for app_type in ["user", "account"] {
        let response = app.create_session("ann@acme.example", app_type, None).await;
        assert_eq!(
            crate::helpers::error_code(response, StatusCode::BAD_REQUEST).await,
            "app_type_unavailable"
        );
    }
    let with_account_app = crate::helpers::spawn_app_with(&[
        ("ZOOM_CLIENT_ID", ""),
        ("ZOOM_ACCOUNT_CLIENT_ID", "account-app"),
        ("ZOOM_ACCOUNT_CLIENT_SECRET", "account-secret"),
    ])
    .await;
    let user = with_account_app
        .create_session("ann@acme.example", "user", None)
        .await;
    assert_eq!(
        crate::helpers::error_code(user, StatusCode::BAD_REQUEST).await,
        "app_type_unavailable"
    );
    let account = with_account_app
        .create_session("ann@acme.example", "account", None)
        .await;
    assert_eq!(account.status(), StatusCode::CREATED);
}

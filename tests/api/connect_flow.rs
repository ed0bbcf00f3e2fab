use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{browser, error_code, location, spawn_app, spawn_app_with, RETURN_ORIGIN};

#[tokio::test]
async fn connect_link_redirects_to_zoom_with_state_pkce_and_a_bound_cookie() {
    let app = spawn_app_with(&[("ZOOM_SCOPES", "meeting:write user:read")]).await;
    let created: Value = app
        .create_session("ann@acme.example", "user", None)
        .await
        .json()
        .await
        .unwrap();
    let url = created["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/connect/", app.base)));
    assert!(created["expires_at"].as_str().unwrap().ends_with('Z'));
    let response = crate::helpers::submit_link_page(&browser(), url).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tb_oauth_"))
        .expect("a browser-binding cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/oauth/callback"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-http PUBLIC_URL must not set Secure"
    );
    let target = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        format!("{}{}", target.origin().ascii_serialization(), target.path()),
        format!("{}/oauth/authorize", app.sandbox_url)
    );
    let q: HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], crate::helpers::CLIENT_ID);
    assert_eq!(q["redirect_uri"], format!("{}/oauth/callback", app.base));
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 43, "state carries at least 256 bits");
    assert_eq!(q["scope"], "meeting:write user:read");
    // The state is stored only as a hash.
    assert!(
        !cookie.contains(&q["state"]),
        "the cookie value is encrypted"
    );
}

#[tokio::test]
async fn scope_is_omitted_when_not_configured() {
    let app = spawn_app().await;
    let url = app.connect_url("ann@acme.example", "user", None).await;
    let response = crate::helpers::submit_link_page(&browser(), &url).await;
    assert!(!location(&response).contains("scope="));
}

#[tokio::test]
async fn user_app_happy_path_stores_an_active_connection() {
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
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert!(page.text().await.unwrap().contains("Zoom is connected"));
    let connections = app.connections().await;
    assert_eq!(connections.len(), 1);
    let c = &connections[0];
    assert_eq!(c["email"], "ann@acme.example");
    assert_eq!(c["app_type"], "user");
    assert_eq!(c["status"], "active");
    assert!(c["zoom_user_id"].as_str().unwrap().starts_with("u_"));
    assert!(c.get("access_token").is_none() && c.get("refresh_token").is_none());
    let token = app.token("ann@acme.example").await;
    assert_eq!(token.status(), StatusCode::OK);
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["auth_type"], "oauth");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["connection_id"], c["id"]);
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("sbx_at_"));
}

#[tokio::test]
async fn tokens_are_sealed_at_rest_and_bound_to_their_row() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    let sealed = row.access_token.unwrap();
    assert!(sealed.starts_with("tbx1.k1."), "{sealed}");
    assert!(!sealed.contains("sbx_at_"));
    let aad = tokenbroker::crypto::Aad::new(
        tokenbroker::crypto::SealedColumn::CONNECTION_ACCESS_TOKEN,
        &id,
    );
    assert!(app
        .app
        .keyring
        .open_string(aad, &sealed)
        .unwrap()
        .starts_with("sbx_at_"));
    let elsewhere = tokenbroker::crypto::Aad::new(
        tokenbroker::crypto::SealedColumn::CONNECTION_ACCESS_TOKEN,
        "another-row",
    );
    assert!(app.app.keyring.open(elsewhere, &sealed).is_err());
}

#[tokio::test]
async fn account_app_installed_by_an_admin_serves_the_whole_org() {
    let app = spawn_app().await;
    let id = app.connect("boss@acme.example", "account", "Admin").await;
    let connections = app.connections().await;
    assert_eq!(connections[0]["app_type"], "account");
    assert!(connections[0]["zoom_account_id"]
        .as_str()
        .unwrap()
        .starts_with("acct_"));
    // Any user of the org gets the account-level token.
    let body: Value = app
        .token("someone.else@acme.example")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["auth_type"], "oauth");
    assert_eq!(body["connection_id"], id.as_str());
}

#[tokio::test]
async fn email_match_ignores_case_and_spaces() {
    let app = spawn_app().await;
    let (browser, callback) = app
        .consented(
            "  Ann@Acme.Example ",
            "user",
            "ANN@acme.EXAMPLE",
            "Member",
            "allow",
        )
        .await;
    assert_eq!(
        browser.get(&callback).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(app.connections().await[0]["email"], "ann@acme.example");
}

#[tokio::test]
async fn reauthorizing_replaces_tokens_in_place() {
    let app = spawn_app().await;
    let first = app.connect("ann@acme.example", "user", "Member").await;
    let before = app
        .app
        .store
        .connection_by_id(&first)
        .await
        .unwrap()
        .unwrap();
    app.app
        .store
        .mark_needs_reauth(&first, before.version, "test", 0)
        .await
        .unwrap();
    let second = app.connect("ann@acme.example", "user", "Member").await;
    assert_eq!(first, second);
    let after = app
        .app
        .store
        .connection_by_id(&first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, tokenbroker::domain::ConnectionStatus::Active);
    assert_eq!(after.status_reason, None);
    assert_ne!(after.access_token, before.access_token);
    assert_eq!(app.connections().await.len(), 1);
}

#[tokio::test]
async fn return_to_gets_the_result_with_a_303() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    assert!(!id.is_empty());
    let browser = browser();
    let url = app
        .connect_url(
            "ann@acme.example",
            "user",
            Some(&format!("{RETURN_ORIGIN}/zoom?x=1")),
        )
        .await;
    let callback = app
        .consent(&browser, &url, "mallory@evil.example", "Member", "allow")
        .await;
    let response = browser.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        format!("{RETURN_ORIGIN}/zoom?x=1&status=email_mismatch")
    );
}

#[tokio::test]
async fn connect_sessions_validate_their_input() {
    let app = spawn_app().await;
    for (body, code) in [
        (
            json!({ "org": "acme", "email": "not-an-email", "app_type": "user" }),
            "invalid_email",
        ),
        (
            json!({ "org": "acme", "email": "a@b.example", "app_type": "admin" }),
            "invalid_app_type",
        ),
        (
            json!({ "org": "acme", "email": "a@b.example", "app_type": "user", "return_to": "https://evil.example/x" }),
            "invalid_return_to",
        ),
        (
            json!({ "org": "acme", "email": "a@b.example", "app_type": "user", "return_to": "javascript:alert(1)" }),
            "invalid_return_to",
        ),
        (
            json!({ "org": "acme", "email": "a@b.example", "app_type": "user", "return_to": "https://user@crm.example.com/" }),
            "invalid_return_to",
        ),
        (
            json!({ "org": "acme", "email": "a@b.example" }),
            "invalid_body",
        ),
    ] {
        let response = app
            .send_json(
                reqwest::Method::POST,
                "/api/v1/connect-sessions",
                body.clone(),
            )
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            code,
            "{body}"
        );
    }
    let other_org = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/connect-sessions",
            json!({ "org": "globex", "email": "a@b.example", "app_type": "user" }),
        )
        .await;
    assert_eq!(
        error_code(other_org, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let raw = app
        .api
        .post(format!("{}/api/v1/connect-sessions", app.base))
        .bearer_auth(&app.api_key)
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(raw, StatusCode::BAD_REQUEST).await,
        "invalid_body"
    );
}

#[tokio::test]
async fn deny_shows_cancelled_and_mentions_jwt_until_the_cutoff() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": "k", "api_secret": "s" }),
        )
        .await;
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let (browser, callback) = app
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "deny",
        )
        .await;
    let page = browser.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    assert!(text.contains("Authorization cancelled"), "{text}");
    assert!(
        text.contains("keeps working with the legacy JWT key until") && text.contains("2099-09-01"),
        "{text}"
    );
    assert!(app.connections().await.is_empty());
    assert_eq!(app.counters().authorization_code, 0);
}

#[tokio::test]
async fn expired_one_time_records_are_pruned_and_live_ones_kept() {
    let app = spawn_app().await;
    let url = app.connect_url("ann@acme.example", "user", None).await;
    assert_eq!(
        crate::helpers::submit_link_page(&browser(), &url)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let (_admin, _) = app.admin_browser("admin@acme.example").await;
    app.app.clock.advance(2 * 86_400);
    let live = app.connect_url("bob@acme.example", "user", None).await;
    let now = app.app.clock.now();
    // A connect session, its pending authorization, an admin link and the 8-hour admin session.
    assert_eq!(app.app.store.prune_expired(now - 86_400).await.unwrap(), 4);
    assert_eq!(app.app.store.prune_expired(now - 86_400).await.unwrap(), 0);
    assert_eq!(
        crate::helpers::submit_link_page(&browser(), &live)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

/// Behind TLS (an https PUBLIC_URL) every cookie the flow sets is `Secure`.
#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app().await;
    let public = "https://zoom.crm.example.com";
    let tls = app
        .second_server(&[("TOKENBROKER_PUBLIC_URL", public)])
        .await;
    let created: Value = app
        .create_session("ann@acme.example", "user", None)
        .await
        .json()
        .await
        .unwrap();
    let token = created["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let url = format!("{}/connect/{token}", tls.base);
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = plain.get(&url).send().await.unwrap();
    let form_cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        form_cookie.contains("Secure") && form_cookie.contains("SameSite=Strict"),
        "{form_cookie}"
    );
    let form_token = crate::helpers::form_token(&page.text().await.unwrap());
    let confirmed = plain
        .post(&url)
        .header("origin", public)
        .header("cookie", form_cookie.split(';').next().unwrap())
        .form(&[("form_token", form_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    let binding = confirmed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tb_oauth_"))
        .expect("a browser-binding cookie");
    assert!(
        binding.contains("Secure") && binding.contains("HttpOnly"),
        "{binding}"
    );
}

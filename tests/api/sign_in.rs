//! Admin sign-in links: a GET never uses them, only their own page's POST
//! does; one session per admin and org; idle sessions end; a master key
//! rotation signs nobody out.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{browser, form_token, spawn_app, spawn_app_with, submit_link_page, TestApp};

async fn link(app: &TestApp, email: &str) -> String {
    let link: Value = app
        .send_json(
            Method::POST,
            "/api/v1/orgs/acme/admin-links",
            json!({ "email": email }),
        )
        .await
        .json()
        .await
        .unwrap();
    link["url"].as_str().unwrap().to_string()
}

async fn overview_status(app: &TestApp, b: &reqwest::Client) -> StatusCode {
    b.get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_get_shows_a_sign_in_page_and_never_uses_the_link() {
    let app = spawn_app().await;
    let url = link(&app, "admin@acme.example").await;
    // A mail scanner or a link preview: any number of GETs, no session.
    for _ in 0..3 {
        let page = browser().get(&url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers().get("location").is_none());
        let text = page.text().await.unwrap();
        assert!(
            text.contains("admin@acme.example") && text.contains("Sign in"),
            "{text}"
        );
    }
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    assert!(audit["events"].as_array().unwrap().is_empty(), "{audit}");
    // The real admin still signs in with the same link.
    let b = browser();
    assert_eq!(
        submit_link_page(&b, &url).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(overview_status(&app, &b).await, StatusCode::OK);
}

#[tokio::test]
async fn a_third_party_page_cannot_sign_a_browser_in() {
    let app = spawn_app().await;
    let url = link(&app, "admin@acme.example").await;
    // The attacker reads the page (and its form token) in their own browser...
    let attacker = browser();
    let token = form_token(
        &attacker
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // ...and makes the victim's browser post it cross-site: no Strict cookie comes along.
    let victim = browser();
    let forged = victim
        .post(&url)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("form_token", token.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let without_cookie = victim
        .post(&url)
        .form(&[("form_token", token.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(without_cookie.status(), StatusCode::FORBIDDEN);
    // Even the attacker's own browser needs the same-origin page: a foreign Origin is refused.
    let cross_origin = attacker
        .post(&url)
        .header("origin", "https://evil.example")
        .form(&[("form_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_origin.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        overview_status(&app, &victim).await,
        StatusCode::UNAUTHORIZED
    );
    // Nothing was used up.
    assert_eq!(
        submit_link_page(&browser(), &url).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_new_sign_in_ends_the_earlier_session_of_that_admin() {
    let app = spawn_app().await;
    let (first, _) = app.admin_browser("admin@acme.example").await;
    let (other_admin, _) = app.admin_browser("other@acme.example").await;
    let (second, _) = app.admin_browser("admin@acme.example").await;
    assert_eq!(
        overview_status(&app, &first).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(overview_status(&app, &second).await, StatusCode::OK);
    assert_eq!(overview_status(&app, &other_admin).await, StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_after_thirty_idle_minutes_but_not_while_used() {
    let app = spawn_app().await;
    let (busy, _) = app.admin_browser("admin@acme.example").await;
    let (idle, _) = app.admin_browser("other@acme.example").await;
    // The busy admin works every 20 minutes for an hour; the idle one does not.
    for _ in 0..3 {
        app.app.clock.advance(20 * 60);
        assert_eq!(overview_status(&app, &busy).await, StatusCode::OK);
    }
    assert_eq!(overview_status(&app, &idle).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotating_the_master_key_signs_nobody_out_and_keeps_callbacks_working() {
    use tokenbroker::crypto::Keyring;
    let old_key = Keyring::generate_key_b64();
    let before = spawn_app_with(&[("TOKENBROKER_MASTER_KEY", &format!("k1:{old_key}"))]).await;
    let (admin, csrf) = before.admin_browser("admin@acme.example").await;
    let (consented, callback) = before
        .consented(
            "ann@acme.example",
            "user",
            "ann@acme.example",
            "Member",
            "allow",
        )
        .await;
    // The same database behind a server whose keyring has a new write key.
    let rotated = before
        .second_server(&[(
            "TOKENBROKER_MASTER_KEY",
            &format!("k2:{},k1:{old_key}", Keyring::generate_key_b64()),
        )])
        .await;
    let overview = admin
        .get(format!("{}/admin/api/overview", rotated.base))
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    let action = admin
        .delete(format!("{}/admin/api/s2s-credentials", rotated.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(
        action.status(),
        StatusCode::NO_CONTENT,
        "a CSRF token from before the rotation"
    );
    let finished = consented
        .get(callback.replace(&before.base, &rotated.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        finished.status(),
        StatusCode::OK,
        "{}",
        finished.text().await.unwrap()
    );
    assert_eq!(before.connections().await.len(), 1);
}

#[tokio::test]
async fn every_state_changing_console_route_needs_the_csrf_token() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let (admin, csrf) = app.admin_browser("admin@acme.example").await;
    let s2s = json!({ "email": "a@acme.example", "account_id": "x", "client_id": "y", "client_secret": "z" });
    let jwt = json!({ "api_key": "k", "api_secret": "s" });
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/admin/api/authorize".into(),
            Some(json!({ "app_type": "user" })),
        ),
        (Method::DELETE, format!("/admin/api/connections/{id}"), None),
        (Method::PUT, "/admin/api/s2s-credentials".into(), Some(s2s)),
        (Method::DELETE, "/admin/api/s2s-credentials".into(), None),
        (Method::PUT, "/admin/api/jwt-credentials".into(), Some(jwt)),
        (Method::DELETE, "/admin/api/jwt-credentials".into(), None),
        (Method::POST, "/admin/logout".into(), None),
    ];
    for (method, path, body) in &routes {
        for token in [None, Some("not-the-token")] {
            let mut request = admin.request(method.clone(), format!("{}{path}", app.base));
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(token) = token {
                request = request.header("x-csrf-token", token);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} with {token:?}"
            );
        }
    }
    // Nothing changed, and the session is still alive.
    assert_eq!(app.connections().await.len(), 1);
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
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["admin.signed_in", "connection.created"],
        "{audit}"
    );
    // The right token works, so the refusals above were about the token.
    let done = admin
        .delete(format!("{}/admin/api/connections/{id}", app.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn another_orgs_key_cannot_mint_an_admin_link_or_write_credentials() {
    let app = spawn_app().await;
    let (_, globex_key) = app.new_org_key("globex").await;
    let calls: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/api/v1/orgs/acme/admin-links",
            json!({ "email": "evil@globex.example" }),
        ),
        (
            Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": "k", "api_secret": "s" }),
        ),
        (
            Method::DELETE,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/orgs/acme/s2s-credentials",
            json!({ "email": "a@acme.example", "account_id": "x", "client_id": "y", "client_secret": "z" }),
        ),
        (
            Method::DELETE,
            "/api/v1/orgs/acme/s2s-credentials",
            json!({}),
        ),
    ];
    for (method, path, body) in calls {
        let answer = app
            .api
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(&globex_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            crate::helpers::error_code(answer, StatusCode::NOT_FOUND).await,
            "not_found",
            "{method} {path}"
        );
    }
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    assert!(audit["events"].as_array().unwrap().is_empty(), "{audit}");
    assert_eq!(
        app.app.store.admin_emails(&app.org.id).await.unwrap(),
        Vec::<String>::new()
    );
}

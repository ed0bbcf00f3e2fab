//! The admin console's HTTP surface: sign-in links, sessions, CSRF, isolation, report.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{browser, error_code, location, spawn_app, spawn_app_with};

#[tokio::test]
async fn admin_links_sign_in_once_with_a_strict_cookie() {
    let app = spawn_app().await;
    let link: Value = app
        .send_json(
            Method::POST,
            "/api/v1/orgs/acme/admin-links",
            json!({ "email": "Admin@Acme.example" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/admin/login/", app.base)));
    let b = browser();
    let landed = crate::helpers::submit_link_page(&b, url).await;
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&landed), "/admin/");
    let cookie = landed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tb_admin="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Max-Age=28800"),
        "{cookie}"
    );
    let overview: Value = b
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["admin_email"], "admin@acme.example");
    assert_eq!(overview["org"]["slug"], "acme");
    assert_eq!(
        overview["redirect_url"],
        format!("{}/oauth/callback", app.base)
    );
    let again = browser().get(url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(again.text().await.unwrap().contains("already used"));
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["events"][0]["action"], "admin.signed_in");
}

#[tokio::test]
async fn expired_links_and_missing_sessions_are_refused() {
    let app = spawn_app().await;
    let link: Value = app
        .send_json(
            Method::POST,
            "/api/v1/orgs/acme/admin-links",
            json!({ "email": "admin@acme.example" }),
        )
        .await
        .json()
        .await
        .unwrap();
    app.app.clock.advance(601);
    assert_eq!(
        browser()
            .get(link["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );
    let anonymous = browser()
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(anonymous, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    let bad = app
        .send_json(
            Method::POST,
            "/api/v1/orgs/acme/admin-links",
            json!({ "email": "nope" }),
        )
        .await;
    assert_eq!(
        error_code(bad, StatusCode::BAD_REQUEST).await,
        "invalid_email"
    );
    // Sessions end after 8 hours.
    let (b, _) = app.admin_browser("admin@acme.example").await;
    app.app.clock.advance(8 * 3600 + 1);
    assert_eq!(
        b.get(format!("{}/admin/api/overview", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let app = spawn_app().await;
    let (b, csrf) = app.admin_browser("admin@acme.example").await;
    let url = format!("{}/admin/api/authorize", app.base);
    let without = b
        .post(&url)
        .json(&json!({ "app_type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(without, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    let wrong = b
        .post(&url)
        .header("x-csrf-token", "nope")
        .json(&json!({ "app_type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let ok = b
        .post(&url)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "app_type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let link: Value = ok.json().await.unwrap();
    assert!(link["url"].as_str().unwrap().contains("/connect/"));
}

#[tokio::test]
async fn the_console_authorize_round_trip_lands_back_on_the_console() {
    let app = spawn_app().await;
    let (b, csrf) = app.admin_browser("admin@acme.example").await;
    let link: Value = b
        .post(format!("{}/admin/api/authorize", app.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "app_type": "account" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let callback = app
        .consent(
            &b,
            link["url"].as_str().unwrap(),
            "admin@acme.example",
            "Admin",
            "allow",
        )
        .await;
    let back = b.get(&callback).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert!(location(&back).starts_with(&format!(
        "{}/admin/?status=connected&connection_id=",
        app.base
    )));
    let overview: Value = b
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["migration"]["state"], "oauth");
    assert_eq!(overview["connections"][0]["app_type"], "account");
}

#[tokio::test]
async fn an_admin_session_never_reaches_another_org() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let (globex, globex_key) = app.new_org_key("globex").await;
    let link: Value = app
        .api
        .post(format!("{}/api/v1/orgs/globex/admin-links", app.base))
        .bearer_auth(&globex_key)
        .json(&json!({ "email": "admin@globex.example" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b = browser();
    crate::helpers::submit_link_page(&b, link["url"].as_str().unwrap()).await;
    let overview: Value = b
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["org"]["slug"], globex.slug);
    assert_eq!(overview["connections"], json!([]));
    let csrf = overview["csrf_token"].as_str().unwrap();
    let steal = b
        .delete(format!("{}/admin/api/connections/{id}", app.base))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(steal.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.connections().await.len(), 1);
}

#[tokio::test]
async fn the_console_never_sends_a_stored_secret_back() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    let (b, csrf) = app.admin_browser("admin@acme.example").await;
    let put = b
        .put(format!("{}/admin/api/jwt-credentials", app.base))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "api_key": "legacykey123", "api_secret": "super-secret-jwt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let text = b
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("super-secret-jwt") && !text.contains("legacykey123"),
        "{text}"
    );
    let overview: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(overview["migration"]["state"], "jwt_only");
    assert_eq!(overview["jwt_accounts"][0]["api_key_hint"], "lega…");
    assert!(overview["jwt_accounts"][0]["email"].is_null());
}

#[tokio::test]
async fn console_pages_carry_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let page = browser()
        .get(format!("{}/admin/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Authorize from Zoom App Marketplace"));
}

#[tokio::test]
async fn the_migration_report_counts_orgs_and_exports_csv() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    let (_, globex_key) = app.new_org_key("globex").await;
    app.new_org_key("initech").await;
    app.connect("ann@acme.example", "user", "Member").await;
    let put = app
        .api
        .put(format!("{}/api/v1/orgs/globex/jwt-credentials", app.base))
        .bearer_auth(&globex_key)
        .json(&json!({ "api_key": "k", "api_secret": "s" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    app.api
        .post(format!("{}/api/v1/orgs/globex/admin-links", app.base))
        .bearer_auth(&globex_key)
        .json(&json!({ "email": "=cmd@globex.example" }))
        .send()
        .await
        .unwrap();
    let scoped = app.get("/api/v1/migration-report").await;
    assert_eq!(error_code(scoped, StatusCode::FORBIDDEN).await, "forbidden");
    let all = app.all_orgs_key().await;
    let report: Value = app
        .get_as(&all, "/api/v1/migration-report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["totals"],
        json!({ "oauth": 1, "s2s": 0, "jwt_only": 1, "jwt_expired": 0, "none": 1 })
    );
    assert_eq!(report["jwt_only_orgs"][0]["slug"], "globex");
    assert_eq!(
        report["jwt_only_orgs"][0]["admin_emails"],
        json!(["=cmd@globex.example"])
    );
    assert!(report["jwt_only_orgs"][0]["days_left"].as_i64().unwrap() > 1000);
    let csv = app
        .get_as(&all, "/api/v1/migration-report?format=csv")
        .await;
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("org,name,state,admin_emails,days_left\n"));
    assert!(
        text.contains("\"globex\",\"globex\",\"jwt_only\",\"'=cmd@globex.example\""),
        "formula injection neutralised: {text}"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let (b, csrf) = app.admin_browser("admin@acme.example").await;
    let refused = b
        .post(format!("{}/admin/logout", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "sign-out needs the CSRF token too"
    );
    let out = b
        .post(format!("{}/admin/logout", app.base))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = b
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

/// After the JWT cutoff an org that only has its legacy key is broken: the
/// console says so (the ✕ state) and the report counts it as `jwt_expired`.
#[tokio::test]
async fn past_the_cutoff_a_jwt_only_org_is_jwt_expired_in_console_and_report() {
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
            Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": "k", "api_secret": "s" }),
        )
        .await;
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let (admin, _) = app.admin_browser("admin@acme.example").await;
    let overview = |b: reqwest::Client, base: String| async move {
        let v: Value = b
            .get(format!("{base}/admin/api/overview"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v
    };
    let before = overview(admin.clone(), app.base.clone()).await;
    assert_eq!(before["migration"]["state"], "jwt_only", "{before}");
    // Past the cutoff (the clock moves; the session is refreshed by use first).
    let cutoff = time::macros::datetime!(2099-09-01 00:00 UTC).unix_timestamp();
    app.app.clock.advance(cutoff - app.app.clock.now() + 86_400);
    let (admin, _) = app.admin_browser("admin@acme.example").await;
    let after = overview(admin, app.base.clone()).await;
    assert_eq!(after["migration"]["state"], "jwt_expired", "{after}");
    assert!(after["migration"]["days_left"].as_i64().unwrap() < 0);
    let all = app.all_orgs_key().await;
    let report: Value = app
        .get_as(&all, "/api/v1/migration-report")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["totals"]["jwt_expired"], 1, "{report}");
    assert_eq!(report["totals"]["jwt_only"], 0, "{report}");
    assert_eq!(report["jwt_only_orgs"][0]["state"], "jwt_expired");
    // And the token API refuses the key clearly.
    let token = app.token("ann@acme.example").await;
    assert_eq!(
        error_code(token, StatusCode::GONE).await,
        "jwt_cutoff_passed"
    );
}

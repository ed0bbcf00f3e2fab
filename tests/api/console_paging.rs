//! Issue 16 in the console: status counts, the first page in the overview,
//! further pages and searches through `/admin/api/connections`, and the same
//! in real Chromium.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::Value;

use crate::browser::{admin_link, click, shot, start_browser, wait_text};
use crate::helpers::{error_code, spawn_app, TestApp};
use crate::paging::seed;

/// 60 connections `user0@…` to `user59@…`; user7 and user42 need re-authorization.
async fn seed_org(app: &TestApp) {
    let ids = seed(&app.app.store, &app.org.id, 0, 60).await;
    for i in [7, 42] {
        assert!(app
            .app
            .store
            .mark_needs_reauth(&ids[i], 0, "refresh refused", 1_700_000_100)
            .await
            .unwrap());
    }
}

fn emails(page: &Value) -> Vec<&str> {
    page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_overview_counts_by_status_and_pages_the_rest() {
    let app = spawn_app().await;
    seed_org(&app).await;
    let (browser, _) = app.admin_browser("admin@acme.example").await;
    let get = |path: String| {
        let browser = browser.clone();
        let url = format!("{}{path}", app.base);
        async move { browser.get(url).send().await.unwrap() }
    };
    let overview: Value = get("/admin/api/overview".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        overview["connection_counts"],
        serde_json::json!([
            { "status": "active", "count": 58 },
            { "status": "needs_reauth", "count": 2 },
            { "status": "revoked", "count": 0 },
        ])
    );
    assert_eq!(overview["connections"].as_array().unwrap().len(), 25);
    assert_eq!(overview["migration"]["active_connections"], 58);
    let next = overview["next"].as_str().unwrap();
    let second: Value = get(format!("/admin/api/connections?limit=25&after={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(emails(&second)[0], "user25@acme.example");
    let reauth: Value = get("/admin/api/connections?status=needs_reauth".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        emails(&reauth),
        ["user7@acme.example", "user42@acme.example"]
    );
    let bad = get("/admin/api/connections?limit=0".into()).await;
    assert_eq!(
        error_code(bad, StatusCode::BAD_REQUEST).await,
        "invalid_limit"
    );
    // Cookie-authenticated like the rest of the console API.
    let anonymous = app
        .api
        .get(format!("{}/admin/api/connections", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn rows(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for row in c
        .find_all(Locator::Css("#connections tbody tr td:first-child"))
        .await
        .unwrap()
    {
        out.push(row.text().await.unwrap());
    }
    out
}

async fn enabled(c: &Client, css: &str) -> bool {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .is_enabled()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_pages_and_searches_a_large_org_in_chromium() {
    let app = spawn_app().await;
    seed_org(&app).await;
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    click(&c, "button.primary").await;

    wait_text(&c, "#connection-counts", "All (60)").await;
    let counts = wait_text(&c, "#connection-counts", "Needs re-authorization (2)").await;
    assert!(counts.contains("Active (58)"), "{counts}");
    wait_text(&c, "#page-info", "Showing 1–25").await;
    assert_eq!(rows(&c).await.len(), 25);
    assert!(!enabled(&c, "#prev-page").await);
    shot(&c, "6-connections-first-page").await;

    click(&c, "#next-page").await;
    wait_text(&c, "#page-info", "Showing 26–50").await;
    assert_eq!(rows(&c).await[0], "user25@acme.example");
    click(&c, "#next-page").await;
    wait_text(&c, "#page-info", "Showing 51–60").await;
    assert_eq!(rows(&c).await.len(), 10);
    assert!(
        !enabled(&c, "#next-page").await,
        "the last page has no Next"
    );
    click(&c, "#prev-page").await;
    wait_text(&c, "#page-info", "Showing 26–50").await;
    shot(&c, "7-connections-second-page").await;

    // The count of connections needing re-authorization is a filter link.
    click(&c, "#connection-counts button.attention").await;
    wait_text(&c, "#page-info", "Showing 1–2").await;
    assert_eq!(
        rows(&c).await,
        ["user7@acme.example", "user42@acme.example"]
    );
    shot(&c, "8-needs-reauth-filter").await;

    // Search one user by email prefix, any status.
    click(&c, "#clear-search").await;
    wait_text(&c, "#page-info", "Showing 1–25").await;
    let search = c.find(Locator::Css("#search-email")).await.unwrap();
    search.send_keys("User42@").await.unwrap();
    click(&c, "#search").await;
    wait_text(&c, "#page-info", "Showing 1–1").await;
    assert_eq!(rows(&c).await, ["user42@acme.example"]);
    wait_text(&c, "#connections tbody", "Needs re-authorization").await;
    shot(&c, "9-search-one-user").await;

    search.clear().await.unwrap();
    search.send_keys("nobody").await.unwrap();
    click(&c, "#search").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !c
        .find(Locator::Css("#no-connections"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no empty-search message"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_text(&c, "#no-connections", "No connection matches").await;
    c.close().await.unwrap();
}

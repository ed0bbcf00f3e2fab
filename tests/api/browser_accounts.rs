//! The console's Zoom account list (S2S and JWT entries, each with its
//! status icon and Remove) and the Meeting SDK form, in headless Chromium.
//! Screenshots go to target/browser-screenshots/accounts-*.png.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::browser::{admin_link, click, shot, start_browser, wait_text};
use crate::helpers::spawn_app_with;
use tokenbroker::sandbox::S2sApp;

async fn fill(c: &Client, css: &str, text: &str) {
    let input = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// The icons of the account rows, in order.
async fn icons(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for icon in c
        .find_all(Locator::Css("#accounts .status-icon"))
        .await
        .unwrap()
    {
        out.push(icon.text().await.unwrap());
    }
    out
}

async fn wait_rows(c: &Client, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while c
        .find_all(Locator::Css("#accounts li"))
        .await
        .unwrap()
        .len()
        != n
    {
        assert!(
            std::time::Instant::now() < deadline,
            "never {n} account rows"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_admin_manages_several_zoom_accounts_and_the_sdk_app_in_chromium() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    for name in ["a", "b"] {
        app.sandbox.register_s2s_app(S2sApp {
            account_id: format!("acct-{name}"),
            client_id: format!("client-{name}"),
            client_secret: format!("secret-{name}"),
        });
    }
    let put = app
        .send_json(
            Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            json!({ "api_key": "legacy", "api_secret": "legacy-secret" }),
        )
        .await;
    assert!(put.status().is_success());
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    click(&c, "button.primary").await;
    wait_text(&c, "#accounts", "Whole org").await;

    // Two S2S accounts through the form.
    for name in ["a", "b"] {
        fill(&c, "#s2s-email", &format!("ops-{name}@acme.example")).await;
        fill(&c, "#s2s-account", &format!("acct-{name}")).await;
        fill(&c, "#s2s-client", &format!("client-{name}")).await;
        fill(&c, "#s2s-secret", &format!("secret-{name}")).await;
        click(&c, "#s2s-form button[type=submit]").await;
        wait_text(&c, "#accounts", &format!("ops-{name}@acme.example")).await;
        app.app.clock.advance(1);
    }
    // A JWT key for one user's own account.
    fill(&c, "#jwt-email", "bob@acme.example").await;
    fill(&c, "#jwt-key", "bobkey").await;
    fill(&c, "#jwt-secret", "bob-secret").await;
    click(&c, "#jwt-form button[type=submit]").await;
    wait_text(&c, "#accounts", "bob@acme.example").await;
    wait_rows(&c, 4).await;
    assert_eq!(icons(&c).await, ["✓", "✓", "⚠", "⚠"]);
    let text = wait_text(&c, "#accounts", "days left").await;
    assert!(!text.contains("secret-"), "{text}");
    // The org-level icon remains.
    assert!(c.find(Locator::Css("#migration-icon")).await.is_ok());
    shot(&c, "accounts-1-list").await;

    // Remove the first S2S entry: the other entries stay.
    click(&c, "#accounts li[data-kind=s2s] button.danger").await;
    wait_text(&c, "#notice", "ops-a@acme.example removed").await;
    wait_rows(&c, 3).await;
    let listed: Value = app
        .get("/api/v1/orgs/acme/s2s-credentials")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["email"], "ops-b@acme.example");
    // And the org-wide JWT entry, by its console name.
    click(&c, "#accounts li[data-kind=jwt] button.danger").await;
    wait_text(&c, "#notice", "the whole org removed").await;
    wait_rows(&c, 2).await;

    // The Meeting SDK app, then a signature made with it.
    fill(&c, "#sdk-key", "consoleSdkKey").await;
    fill(&c, "#sdk-secret", "console-sdk-secret").await;
    click(&c, "#sdk-form button[type=submit]").await;
    wait_text(&c, "#sdk-state", "consoleSdkKey").await;
    fill(&c, "#sdk-meeting", "85746065432").await;
    click(&c, "#sdk-sign-form button[type=submit]").await;
    let result = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#sdk-result-box:not([hidden]) #sdk-result"))
        .await
        .unwrap();
    let signature = result.prop("value").await.unwrap().unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        &signature,
        &jsonwebtoken::DecodingKey::from_secret(b"console-sdk-secret"),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sdkKey"], "consoleSdkKey");
    assert_eq!(claims["mn"], "85746065432");
    assert_eq!(claims["role"], 0);
    let page = c.source().await.unwrap();
    assert!(!page.contains("console-sdk-secret"));
    shot(&c, "accounts-2-sdk-signature").await;

    // Past the JWT cutoff (and the console session), the JWT entry turns ✕.
    app.app.clock.advance(80 * 365 * 86_400);
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    click(&c, "button.primary").await;
    wait_text(&c, "#accounts", "past the cutoff").await;
    assert_eq!(icons(&c).await, ["✓", "✕"]);
    shot(&c, "accounts-3-jwt-expired").await;
    c.close().await.unwrap();
}

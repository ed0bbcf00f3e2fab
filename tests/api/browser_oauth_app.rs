//! The console's form for the org's own Zoom OAuth app, in headless Chromium.

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::Value;

use tokenbroker::sandbox::ClientApp;

use crate::browser::{admin_link, click, shot, start_browser, wait_text};
use crate::helpers::spawn_app;

async fn value(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn an_admin_sets_and_removes_the_orgs_own_zoom_app_in_chromium() {
    let app = spawn_app().await;
    app.sandbox.register_client(ClientApp {
        client_id: "acme-own-client".into(),
        client_secret: "acme-own-secret".into(),
        redirect_uris: vec![app.app.config.redirect_uri()],
    });
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    click(&c, "button.primary").await;

    // 1. Not set yet; the URLs to register in Zoom are shown, each with Copy.
    wait_text(&c, "#own-app-state", "Not set").await;
    assert_eq!(
        value(&c, "#own-app-redirect").await,
        format!("{}/oauth/callback", app.base)
    );
    assert_eq!(
        value(&c, "#own-app-webhook").await,
        format!("{}/webhooks/zoom/acme", app.base)
    );
    c.find(Locator::Css("#own-app-copy-webhook")).await.unwrap();
    shot(&c, "own-app-0-not-set").await;

    // 2. Save the app; the secret is never shown again.
    type_into(&c, "#own-app-client", "acme-own-client").await;
    type_into(&c, "#own-app-secret", "acme-own-secret").await;
    type_into(&c, "#own-app-token", "acme-own-hook").await;
    shot(&c, "own-app-1-form").await;
    click(&c, "#own-app-form button[type=submit]").await;
    let state = wait_text(&c, "#own-app-state", "Set: client acme-own-client").await;
    assert!(state.contains("with a webhook secret token"), "{state}");
    assert_eq!(value(&c, "#own-app-secret").await, "");
    assert!(!c.source().await.unwrap().contains("acme-own-secret"));
    shot(&c, "own-app-2-set").await;
    let shown: Value = app
        .get("/api/v1/orgs/acme/oauth-app")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["client_id"], "acme-own-client");

    // 3. A connection uses it: Remove is refused, and the console says why.
    let id = app.connect("ann@acme.example", "user", "Member").await;
    click(&c, "#own-app-remove").await;
    wait_text(&c, "#notice", "1 active connection").await;
    shot(&c, "own-app-3-in-use").await;

    // 4. Disconnected, Remove works; back to the deployment's app.
    let gone = app
        .api
        .request(
            Method::DELETE,
            format!("{}/api/v1/orgs/acme/connections/{id}", app.base),
        )
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert!(gone.status().is_success());
    click(&c, "#own-app-remove").await;
    wait_text(&c, "#notice", "removed").await;
    wait_text(&c, "#own-app-state", "Not set").await;
    shot(&c, "own-app-4-removed").await;
    assert_eq!(app.get("/api/v1/orgs/acme/oauth-app").await.status(), 404);
    c.close().await.unwrap();
}

//! The admin console in real headless Chromium, driven over WebDriver.
//! Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them).
//! Without them these tests fail with a message saying so: a test that passes
//! without having run would hide what was not checked. To leave them out on
//! purpose, say so on the command line: `cargo test -- --skip browser::`.
//! Screenshots go to target/browser-screenshots/.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

const DRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn start_browser(profile: &std::path::Path) -> (Driver, Client) {
    assert!(
        std::path::Path::new(DRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "{DRIVER} or {CHROMIUM} is missing: install them (apt-get install -y chromium \
         chromium-driver), or leave the browser tests out with `cargo test -- --skip browser::`"
    );
    // fantoccini and reqwest bring two rustls backends; pick one for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = crate::process::free_port();
    let child = Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1100",
                     format!("--user-data-dir={}", profile.display())]
        }
    }))
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (driver, client),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not start Chromium through chromedriver: {e}"),
        }
    }
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the element's text contains `needle`.
pub(crate) async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await {
            if let Ok(text) = el.text().await {
                if text.contains(needle) {
                    return text;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {css:?} to contain {needle:?}; page: {}",
            c.source()
                .await
                .unwrap_or_default()
                .chars()
                .take(2000)
                .collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn admin_link(app: &TestApp) -> String {
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
    link["url"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_admin_migrates_from_jwt_to_oauth_in_chromium() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
        ("ZOOM_SCOPES", "user:read"),
        (
            "ZOOM_PRODUCTS",
            "meetings=meeting:read meeting:write;webinar=webinar:read",
        ),
        ("ZOOM_REQUIRED_SCOPES", "meeting:write"),
    ])
    .await;
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

    // 1. Sign in through an admin link: its page, then its Sign in button.
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    shot(&c, "0-sign-in-page").await;
    click(&c, "button.primary").await;
    // 2. The JWT-only org shows the warning.
    let title = wait_text(&c, "#migration-title", "Still on JWT").await;
    assert!(title.contains("days left"), "{title}");
    assert_eq!(
        c.find(Locator::Css("#migration-icon"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "⚠"
    );
    shot(&c, "1-jwt-warning").await;

    // 3. Authorize: choose products on the connect page (untick webinar),
    // confirm, then consent on the sandbox Zoom.
    click(&c, "#authorize").await;
    let kind = wait_text(&c, "dl", "CRM user").await;
    assert!(kind.contains("admin@acme.example"), "{kind}");
    wait_text(&c, "fieldset.products", "webinar").await;
    click(&c, "input[name=product][value=webinar]").await;
    shot(&c, "2a-connect-page").await;
    click(&c, "button.primary").await;
    let email = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#email"))
        .await
        .unwrap();
    email.send_keys("admin@acme.example").await.unwrap();
    shot(&c, "2-zoom-consent").await;
    c.find(Locator::Css("#allow"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // 4. Back on the console, connected; the warning is gone.
    wait_text(&c, "#notice", "Zoom is connected").await;
    wait_text(&c, "#migration-title", "OAuth in place").await;
    wait_text(&c, "#connections tbody", "admin@acme.example").await;
    assert!(
        c.current_url().await.unwrap().as_str().ends_with("/admin/"),
        "the result was taken out of the URL"
    );
    shot(&c, "3-connected").await;
    let connection = &app.connections().await[0];
    assert_eq!(connection["status"], "active");
    assert_eq!(
        connection["scopes"],
        json!(["user:read", "meeting:read", "meeting:write"]),
        "the ticked product's scopes, not the unticked one's"
    );

    // 5. Disconnect (confirming the dialog); the org falls back to JWT.
    c.find(Locator::Css("#connections tbody button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.accept_alert().await.unwrap();
    wait_text(&c, "#notice", "Disconnected").await;
    wait_text(&c, "#migration-title", "Still on JWT").await;
    shot(&c, "4-disconnected").await;
    assert!(app.connections().await.is_empty());
    assert_eq!(app.counters().revoke, 1);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_used_sign_in_link_shows_a_readable_page_in_chromium() {
    let app = spawn_app_with(&[]).await;
    let link = admin_link(&app).await;
    assert_eq!(
        crate::helpers::submit_link_page(&crate::helpers::browser(), &link)
            .await
            .status(),
        reqwest::StatusCode::SEE_OTHER
    );
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&link).await.unwrap();
    wait_text(&c, "h1", "already used").await;
    shot(&c, "5-used-link").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn the_console_names_events_the_crm_never_received_in_chromium() {
    // A receiver that refuses everything, and a 1 s retry window.
    let refuse = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", refuse.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/hooks",
        axum::routing::post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    tokio::spawn(async move { axum::serve(refuse, router).await });
    let app = spawn_app_with(&[
        ("TOKENBROKER_EVENTS_URL", &url),
        (
            "TOKENBROKER_EVENTS_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        ("TOKENBROKER_EVENTS_RETRY_BASE_MS", "50"),
        ("TOKENBROKER_EVENTS_GIVE_UP_SECS", "1"),
    ])
    .await;
    app.connect("ann@acme.example", "user", "Member").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.app.store.failed_event_count(&app.org.id).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the event never failed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = start_browser(profile.path()).await;
    c.goto(&admin_link(&app).await).await.unwrap();
    wait_text(&c, "h1", "Sign in").await;
    click(&c, "button.primary").await;
    let note = wait_text(&c, "#failed-events", "could not be delivered").await;
    assert!(note.starts_with("1 event "), "{note}");
    shot(&c, "6-failed-events").await;
    c.close().await.unwrap();
}

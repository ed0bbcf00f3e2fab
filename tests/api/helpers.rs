//! `spawn_app()`: a broker and a sandbox Zoom on random ports, with a fresh
//! database. SQLite by default; PostgreSQL when `TEST_DATABASE_URL` is set.
//! Logs show only with `TEST_LOG=1`.

use std::collections::HashMap;
use std::net::SocketAddr;

use reqwest::redirect::Policy;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use tokenbroker::config::Config;
use tokenbroker::crypto::Keyring;
use tokenbroker::sandbox::{self, ClientApp, Counters, Fault, SandboxState};
use tokenbroker::store::{self, DynStore, Org};
use tokenbroker::{App, AppState};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";
pub const RETURN_ORIGIN: &str = "https://crm.example.com";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-token";

pub struct TestApp {
    pub base: String,
    pub app: AppState,
    pub sandbox: SandboxState,
    pub sandbox_url: String,
    sandbox_addr: SocketAddr,
    sandbox_stop: Option<oneshot::Sender<()>>,
    pub org: Org,
    /// An API key limited to `org` ("acme").
    pub api_key: String,
    pub api: Client,
    _stop: oneshot::Sender<()>,
    _db: TestDb,
    /// The configuration it was started with, for `serve` processes beside it.
    pub vars: HashMap<String, String>,
}

impl Drop for TestApp {
    /// Every injected fault must have fired: one that did not means the test
    /// never reached the path it was written for.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let pending = self.sandbox.pending_faults();
            assert_eq!(
                pending, 0,
                "{pending} injected sandbox fault(s) never fired"
            );
        }
    }
}

/// Another broker process-in-a-task on the same database and public URL.
pub struct SecondServer {
    pub base: String,
    _stop: oneshot::Sender<()>,
}

pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres,
}

/// A fresh database URL for one test. Fails loudly if Postgres was asked for
/// and cannot be reached: a skipped backend must never look like a pass.
pub async fn fresh_database() -> (String, TestDb) {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(admin_url) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| {
                    panic!("TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
                });
            let name = format!("tb_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            (url.to_string(), TestDb::Postgres)
        }
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, TestDb::Sqlite(dir))
        }
    }
}

pub fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        tokenbroker::telemetry::init(tokenbroker::config::LogFormat::Text);
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts everything; `overrides` replace or add configuration variables.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let (database_url, db) = fresh_database().await;
    spawn_app_on(database_url, db, overrides).await
}

/// As `spawn_app_with`, on a database of the caller's (a throwaway cluster).
pub async fn spawn_app_on(database_url: String, db: TestDb, overrides: &[(&str, &str)]) -> TestApp {
    init_logs();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_addr = sandbox_listener.local_addr().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox_url = format!("http://{sandbox_addr}");

    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url),
        ("TOKENBROKER_PUBLIC_URL".into(), base.clone()),
        (
            "TOKENBROKER_MASTER_KEY".into(),
            format!("k1:{}", Keyring::generate_key_b64()),
        ),
        ("ZOOM_OAUTH_URL".into(), sandbox_url.clone()),
        ("ZOOM_API_URL".into(), format!("{sandbox_url}/v2")),
        ("ZOOM_CLIENT_ID".into(), CLIENT_ID.into()),
        ("ZOOM_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ("TOKENBROKER_RETURN_ORIGINS".into(), RETURN_ORIGIN.into()),
        ("TOKENBROKER_UPSTREAM_TIMEOUT_SECS".into(), "2".into()),
        ("TOKENBROKER_BACKGROUND_REFRESH".into(), "0".into()),
        ("ZOOM_WEBHOOK_SECRET_TOKEN".into(), WEBHOOK_SECRET.into()),
    ]);
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test config is valid");
    let saved_vars = vars.clone();
    let keyring = config.keyring.clone().unwrap();
    let store = store::connect(&config.database_url)
        .await
        .expect("open test database");
    let org = create_org(&store, "acme").await;
    let (key_row, api_key) =
        tokenbroker::service::api_keys::new_api_key(Some(org.id.clone()), None, 0);
    store.insert_api_key(&key_row).await.unwrap();

    let sandbox = sandbox::Sandbox::new(sandbox::DEFAULT_ACCESS_TTL);
    sandbox.register_client(ClientApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![config.redirect_uri()],
    });
    sandbox.set_webhook(&format!("{base}/webhooks/zoom"), WEBHOOK_SECRET);
    let app = App::new(config, keyring, store).into_state();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(tokenbroker::launch_with_tcp_listener(
        listener,
        app.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut test_app = TestApp {
        base,
        app,
        sandbox,
        sandbox_url,
        sandbox_addr,
        sandbox_stop: None,
        org,
        api_key,
        api: Client::builder().redirect(Policy::none()).build().unwrap(),
        _stop: stop,
        _db: db,
        vars: saved_vars,
    };
    test_app.start_sandbox_on(sandbox_listener);
    test_app
}

pub async fn create_org(store: &DynStore, slug: &str) -> Org {
    let org = Org {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.into(),
        name: slug.into(),
        created_at: 0,
    };
    store.insert_org(&org).await.unwrap();
    org
}

/// A browser: keeps cookies, never follows redirects by itself.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The hidden `form_token` of a page's form.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"form_token\" value=\"";
    let start = html.find(marker).expect("a form_token field") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Opens a one-time link's page and submits its form as the page itself
/// would (same origin, with its token). Returns the POST's answer, or the
/// GET's when the page shows no form.
pub async fn submit_link_page(browser: &Client, url: &str) -> Response {
    let page = browser.get(url).send().await.unwrap();
    if page.status() != StatusCode::OK {
        return page;
    }
    let html = page.text().await.unwrap();
    let mut form = vec![("form_token".to_string(), form_token(&html))];
    form.extend(
        checked_products(&html)
            .into_iter()
            .map(|p| ("product".to_string(), p)),
    );
    let parsed = url::Url::parse(url).unwrap();
    browser
        .post(url)
        .header("origin", parsed.origin().ascii_serialization())
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The product checkboxes a page serves: `(value, ticked)`.
pub fn product_boxes(html: &str) -> Vec<(String, bool)> {
    html.split("<input type=\"checkbox\" name=\"product\" ")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.split('>').next()?;
            let value = tag.split("value=\"").nth(1)?.split('"').next()?;
            Some((value.to_string(), tag.contains("checked")))
        })
        .collect()
}

/// The ticked ones, as a browser would submit them.
pub fn checked_products(html: &str) -> Vec<String> {
    product_boxes(html)
        .into_iter()
        .filter_map(|(name, ticked)| ticked.then_some(name))
        .collect()
}

/// Answers the sandbox Zoom's consent page for `authorize` (the URL the
/// broker sent the browser to) as `email`; returns where Zoom sends the
/// browser next (the callback URL).
pub async fn decide_on_zoom(
    browser: &Client,
    authorize: &str,
    email: &str,
    role: &str,
    decision: &str,
) -> String {
    let authorize = url::Url::parse(authorize).unwrap();
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("email".into(), email.into()));
    form.push(("role".into(), role.into()));
    form.push(("decision".into(), decision.into()));
    let zoom = authorize.origin().ascii_serialization();
    let decided = browser
        .post(format!("{zoom}/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::FOUND);
    location(&decided)
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

impl TestApp {
    /// The database this app runs on, for commands run beside it.
    pub fn database_url(&self) -> String {
        self.vars["DATABASE_URL"].clone()
    }

    /// Starts a second broker on the same database, under the same public URL
    /// (as a replica behind one load balancer would be), with `overrides`.
    pub async fn second_server(&self, overrides: &[(&str, &str)]) -> SecondServer {
        let mut vars = self.vars.clone();
        for (k, v) in overrides {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("valid config");
        let keyring = config.keyring.clone().unwrap();
        let store = store::connect(&config.database_url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = App::new(config, keyring, store).into_state();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(tokenbroker::launch_with_tcp_listener(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
        ));
        SecondServer { base, _stop: stop }
    }

    fn start_sandbox_on(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(sandbox::launch_with_tcp_listener(
            listener,
            self.sandbox.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        self.sandbox_stop = Some(stop);
    }

    /// Takes the sandbox off the network: connections are refused.
    pub async fn stop_sandbox(&mut self) {
        if let Some(stop) = self.sandbox_stop.take() {
            let _ = stop.send(());
        }
        // Await the listener's close: a connection attempt is refused.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while tokio::net::TcpStream::connect(self.sandbox_addr)
            .await
            .is_ok()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the sandbox kept listening"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Brings the sandbox back on the same port, its memory intact.
    pub async fn restart_sandbox(&mut self) {
        let listener = TcpListener::bind(self.sandbox_addr)
            .await
            .expect("rebind sandbox port");
        self.start_sandbox_on(listener);
    }

    pub fn counters(&self) -> Counters {
        self.sandbox.counters()
    }

    /// Zoom kills the user's access tokens early (the refresh token lives
    /// on); returns how many it killed.
    pub async fn revoke_access(&self, email: &str) -> u64 {
        let revoked: Value = self
            .api
            .post(format!("{}/_sandbox/revoke-access", self.sandbox_url))
            .json(&serde_json::json!({ "email": email }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        revoked["revoked"].as_u64().unwrap()
    }

    pub fn fault(&self, endpoint: &str, status: Option<u16>, delay_ms: u64, count: u32) {
        self.sandbox.add_fault(Fault {
            endpoint: endpoint.into(),
            status,
            delay_ms,
            count,
            error: None,
            reason: None,
            drop_connection: false,
        });
    }

    pub async fn new_org_key(&self, slug: &str) -> (Org, String) {
        let org = create_org(&self.app.store, slug).await;
        let (row, key) = tokenbroker::service::api_keys::new_api_key(Some(org.id.clone()), None, 0);
        self.app.store.insert_api_key(&row).await.unwrap();
        (org, key)
    }

    pub async fn all_orgs_key(&self) -> String {
        let (row, key) = tokenbroker::service::api_keys::new_api_key(None, None, 0);
        self.app.store.insert_api_key(&row).await.unwrap();
        key
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.api_key, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> Response {
        self.api
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: Value) -> Response {
        self.send_json_as(&self.api_key, method, path, body).await
    }

    pub async fn send_json_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Response {
        self.api
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.api
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_session(
        &self,
        email: &str,
        app_type: &str,
        return_to: Option<&str>,
    ) -> Response {
        let mut body = json!({ "org": "acme", "email": email, "app_type": app_type });
        if let Some(r) = return_to {
            body["return_to"] = r.into();
        }
        self.send_json(reqwest::Method::POST, "/api/v1/connect-sessions", body)
            .await
    }

    pub async fn connect_url(
        &self,
        email: &str,
        app_type: &str,
        return_to: Option<&str>,
    ) -> String {
        let response = self.create_session(email, app_type, return_to).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Follows a connect link to the sandbox consent page and decides there.
    /// Returns the callback URL Zoom sends the browser to (not yet opened).
    pub async fn consent(
        &self,
        browser: &Client,
        connect_url: &str,
        zoom_email: &str,
        role: &str,
        decision: &str,
    ) -> String {
        let to_zoom = submit_link_page(browser, connect_url).await;
        assert_eq!(
            to_zoom.status(),
            StatusCode::SEE_OTHER,
            "confirming the connect page should redirect to Zoom"
        );
        let authorize = location(&to_zoom);
        let consent_page = browser.get(&authorize).send().await.unwrap();
        assert_eq!(consent_page.status(), StatusCode::OK);
        decide_on_zoom(browser, &authorize, zoom_email, role, decision).await
    }

    /// A fresh browser that has consented on Zoom; returns it with the
    /// callback URL it is about to open.
    pub async fn consented(
        &self,
        crm_email: &str,
        app_type: &str,
        zoom_email: &str,
        role: &str,
        decision: &str,
    ) -> (Client, String) {
        let browser = browser();
        let url = self.connect_url(crm_email, app_type, None).await;
        let callback = self
            .consent(&browser, &url, zoom_email, role, decision)
            .await;
        (browser, callback)
    }

    /// The whole happy path; returns the new connection's id.
    pub async fn connect(&self, email: &str, app_type: &str, role: &str) -> String {
        let browser = browser();
        let url = self
            .connect_url(email, app_type, Some(&format!("{RETURN_ORIGIN}/zoom/done")))
            .await;
        let callback = self.consent(&browser, &url, email, role, "allow").await;
        let done = browser.get(&callback).send().await.unwrap();
        assert_eq!(
            done.status(),
            StatusCode::SEE_OTHER,
            "{}",
            done.text().await.unwrap()
        );
        let back = url::Url::parse(&location(&done)).unwrap();
        let pairs: HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(pairs.get("status").map(String::as_str), Some("connected"));
        pairs["connection_id"].clone()
    }

    /// Mints an admin sign-in link through the API and opens it in a fresh
    /// browser. Returns the signed-in browser and its CSRF token.
    pub async fn admin_browser(&self, email: &str) -> (Client, String) {
        let link = self
            .send_json(
                reqwest::Method::POST,
                "/api/v1/orgs/acme/admin-links",
                json!({ "email": email }),
            )
            .await;
        assert_eq!(link.status(), StatusCode::CREATED);
        let url = link.json::<Value>().await.unwrap()["url"]
            .as_str()
            .unwrap()
            .to_string();
        let browser = browser();
        let landed = submit_link_page(&browser, &url).await;
        assert_eq!(landed.status(), StatusCode::SEE_OTHER);
        let overview: Value = browser
            .get(format!("{}/admin/api/overview", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            browser,
            overview["csrf_token"].as_str().unwrap().to_string(),
        )
    }

    pub async fn connections(&self) -> Vec<Value> {
        let response = self.get("/api/v1/orgs/acme/connections").await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        assert!(
            page.get("next").is_none(),
            "one page holds them all: {page}"
        );
        page["connections"].as_array().unwrap().clone()
    }

    pub async fn token(&self, email: &str) -> Response {
        self.get(&format!("/api/v1/orgs/acme/users/{email}/token"))
            .await
    }
}

/// Asserts the JSON error shape and returns the `error` code.
pub async fn error_code(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body["error"].as_str().unwrap().to_string()
}

/// Runs raw statements on the test database behind `url`, around the store.
pub async fn execute_sql(url: &str, statements: &[String]) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s.clone()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
}

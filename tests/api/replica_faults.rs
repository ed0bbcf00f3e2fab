//! Two real `tokenbroker serve` processes on one database, one of them
//! faulty: a clock 20 s ahead, or killed in the middle of a refresh.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use tokenbroker::crypto::Keyring;
use tokenbroker::sandbox::{self, ClientApp, Fault, SandboxState};
use tokenbroker::store;
use tokenbroker::tokens::LOST_ANSWER_REASON;

use crate::helpers::{browser, fresh_database, location, TestDb, CLIENT_ID, CLIENT_SECRET};
use crate::process::{free_port, run, Server};

const EMAIL: &str = "ann@acme.example";

struct Pair {
    sandbox: SandboxState,
    a: Server,
    b: Server,
    base_a: String,
    base_b: String,
    api_key: String,
    db: String,
    api: reqwest::Client,
    _dir: tempfile::TempDir,
    _db: TestDb,
}

impl Pair {
    /// Starts replicas `a` and `b`; `timing` applies to both, `a_only` to `a`.
    /// Access tokens live 3000 s, inside the 3500 s refresh window.
    async fn start(timing: &[(&str, &str)], a_only: &[(&str, &str)]) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let (db, guard) = fresh_database().await;
        let sandbox = sandbox::Sandbox::new(3_000);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let zoom = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(sandbox::launch_with_tcp_listener(
            listener,
            sandbox.clone(),
            std::future::pending(),
        ));
        let (port_a, port_b) = (free_port(), free_port());
        let (base_a, base_b) = (
            format!("http://127.0.0.1:{port_a}"),
            format!("http://127.0.0.1:{port_b}"),
        );
        sandbox.register_client(ClientApp {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uris: vec![format!("{base_b}/oauth/callback")],
        });
        let (master, api_url) = (Keyring::generate_key_b64(), format!("{zoom}/v2"));
        let mut common: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", &db),
            ("TOKENBROKER_MASTER_KEY", &master),
            ("ZOOM_OAUTH_URL", &zoom),
            ("ZOOM_API_URL", &api_url),
            ("ZOOM_CLIENT_ID", CLIENT_ID),
            ("ZOOM_CLIENT_SECRET", CLIENT_SECRET),
            ("TOKENBROKER_REFRESH_AHEAD_SECS", "3500"),
            ("TOKENBROKER_UPSTREAM_TIMEOUT_SECS", "2"),
            ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
        ];
        common.extend_from_slice(timing);
        assert!(run(dir.path(), &["org", "create", "acme"], &common)
            .status
            .success());
        let key_out = run(dir.path(), &["api-key", "create", "--org", "acme"], &common);
        let api_key = String::from_utf8(key_out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .into();
        let mut vars_a = common.clone();
        vars_a.push(("TOKENBROKER_PUBLIC_URL", &base_a));
        vars_a.extend_from_slice(a_only);
        let mut vars_b = common.clone();
        vars_b.push(("TOKENBROKER_PUBLIC_URL", &base_b));
        let a = Server::start(dir.path(), "a", port_a, &vars_a).await;
        let b = Server::start(dir.path(), "b", port_b, &vars_b).await;
        let pair = Pair {
            sandbox,
            a,
            b,
            base_a,
            base_b,
            api_key,
            db,
            api: reqwest::Client::new(),
            _dir: dir,
            _db: guard,
        };
        pair.authorize_through_b().await;
        pair
    }

    async fn authorize_through_b(&self) {
        let session: Value = self
            .api
            .post(format!("{}/api/v1/connect-sessions", self.base_b))
            .bearer_auth(&self.api_key)
            .json(&json!({ "org": "acme", "email": EMAIL, "app_type": "user" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let browser = browser();
        let connect =
            crate::helpers::submit_link_page(&browser, session["url"].as_str().unwrap()).await;
        let authorize = url::Url::parse(&location(&connect)).unwrap();
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.extend([
            ("email".into(), EMAIL.into()),
            ("role".into(), "Member".into()),
            ("decision".into(), "allow".into()),
        ]);
        let zoom = authorize.origin().ascii_serialization();
        let decided = browser
            .post(format!("{zoom}/oauth/authorize"))
            .form(&form)
            .send()
            .await;
        let callback = location(&decided.unwrap());
        let done = browser.get(&callback).send().await.unwrap();
        assert_eq!(
            done.status(),
            StatusCode::OK,
            "{}",
            done.text().await.unwrap()
        );
    }

    async fn token(&self, base: &str) -> reqwest::Response {
        self.api
            .get(format!("{base}/api/v1/orgs/acme/users/{EMAIL}/token"))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .unwrap()
    }

    /// Zoom acts on the next token call at once and answers `delay_ms` later.
    fn slow_zoom(&self, delay_ms: u64) {
        self.sandbox.set_access_ttl(3_600);
        self.sandbox.add_fault(Fault {
            endpoint: "token".into(),
            delay_ms,
            count: 1,
            ..Fault::default()
        });
    }

    async fn reached_zoom(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.sandbox.counters().refresh_token == 0 {
            assert!(Instant::now() < deadline, "no refresh reached Zoom");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn connection(&self) -> store::Connection {
        let store = store::connect(&self.db).await.unwrap();
        let org = store.org_by_slug("acme").await.unwrap().unwrap();
        store.list_connections(&org.id).await.unwrap().remove(0)
    }
}

#[tokio::test]
async fn a_replica_whose_clock_runs_20s_ahead_does_not_refresh_twice() {
    // The lease (8 + 2 + 5 = 15 s) is shorter than the skew: on the replicas'
    // own clocks, a would see b's live lease as long expired.
    let timing = [
        ("TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS", "8"),
        ("TOKENBROKER_STORE_RETRY_SECS", "2"),
    ];
    let pair = Pair::start(&timing, &[("TOKENBROKER_CLOCK_OFFSET_SECS", "20")]).await;
    pair.slow_zoom(6_000);
    let first = tokio::spawn({
        let request = pair
            .api
            .get(format!(
                "{}/api/v1/orgs/acme/users/{EMAIL}/token",
                pair.base_b
            ))
            .bearer_auth(&pair.api_key);
        async move { request.send().await.unwrap() }
    });
    pair.reached_zoom().await;
    // b's refresh is at Zoom; a, 20 s ahead, asks while b waits for the answer.
    // Both are answered in time with the still-valid token and a warning.
    let from_a: Value = pair.token(&pair.base_a).await.json().await.unwrap();
    let from_b: Value = first.await.unwrap().json().await.unwrap();
    assert_eq!(from_a["access_token"], from_b["access_token"]);
    assert!(from_a["warnings"][0].as_str().is_some(), "{from_a}");
    let old = from_b;

    let deadline = Instant::now() + Duration::from_secs(20);
    while pair.connection().await.last_refreshed_at.is_none() {
        assert!(Instant::now() < deadline, "b never stored its refresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let new_a: Value = pair.token(&pair.base_a).await.json().await.unwrap();
    let new_b: Value = pair.token(&pair.base_b).await.json().await.unwrap();
    assert_ne!(new_a["access_token"], old["access_token"]);
    assert_eq!(new_a["access_token"], new_b["access_token"]);
    let counters = pair.sandbox.counters();
    assert_eq!(
        (counters.refresh_token, counters.refresh_reuse),
        (1, 0),
        "exactly one refresh"
    );
    assert_eq!(
        pair.connection().await.status,
        tokenbroker::domain::ConnectionStatus::Active
    );
}

#[tokio::test]
async fn a_replica_killed_mid_refresh_leaves_a_lost_answer_named() {
    // A short lease (3 + 1 + 5 = 9 s), so the test need not wait long for it.
    let timing = [
        ("TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS", "3"),
        ("TOKENBROKER_STORE_RETRY_SECS", "1"),
    ];
    let mut pair = Pair::start(&timing, &[]).await;
    pair.slow_zoom(30_000);
    let doomed = tokio::spawn({
        let request = pair
            .api
            .get(format!(
                "{}/api/v1/orgs/acme/users/{EMAIL}/token",
                pair.base_a
            ))
            .bearer_auth(&pair.api_key);
        async move { request.send().await }
    });
    pair.reached_zoom().await;
    // Zoom has rotated; a dies before the answer comes.
    pair.a.child.kill().unwrap();
    pair.a.child.wait().unwrap();
    assert!(doomed.await.unwrap().is_err());

    // b serves the still-valid token until a's lease runs out, then can only
    // replay the spent refresh token.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = pair.token(&pair.base_b).await;
        if response.status() == StatusCode::CONFLICT {
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(Instant::now() < deadline, "b never retried the refresh");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let conn = pair.connection().await;
    assert_eq!(
        conn.status,
        tokenbroker::domain::ConnectionStatus::NeedsReauth
    );
    assert_eq!(conn.status_reason.as_deref(), Some(LOST_ANSWER_REASON));
    assert_eq!(pair.sandbox.counters().refresh_reuse, 1);
    let metrics = pair
        .api
        .get(format!("{}/metrics", pair.base_b))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"tokenbroker_token_refreshes_total{kind="oauth",outcome="answer_lost"} 1"#),
        "{metrics}"
    );
    assert!(pair.b.terminate().success());
}

// Multi-threaded: `terminate` blocks its thread while the in-process
// sandbox must still answer a.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_told_to_stop_mid_refresh_stores_the_answer_first() {
    let mut pair = Pair::start(&[], &[]).await;
    pair.slow_zoom(3_000);
    let answered = pair.token(&pair.base_a).await;
    assert_eq!(answered.status(), StatusCode::OK, "the still-valid token");
    pair.reached_zoom().await;
    // A rolling deploy: SIGTERM while Zoom's answer is on its way.
    let started = Instant::now();
    assert!(pair.a.terminate().success());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "a waited for the answer"
    );
    assert!(
        pair.connection().await.last_refreshed_at.is_some(),
        "{}",
        pair.a.output()
    );
    let next = pair.token(&pair.base_b).await;
    assert_eq!(next.status(), StatusCode::OK);
    let counters = pair.sandbox.counters();
    assert_eq!((counters.refresh_token, counters.refresh_reuse), (1, 0));
}

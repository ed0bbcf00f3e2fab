//! Issue 23: a real `tokenbroker serve` exports its spans over OTLP/HTTP to
//! a receiver whose decoding is the OpenTelemetry project's own (PyPI
//! `opentelemetry-proto`, tests/otlp/receiver.py). The caller's W3C trace
//! continues into the broker, the Zoom refresh is a child span, and nothing
//! the receiver got holds a token, a secret or the user's email.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;
use crate::process::{free_port, Server};

pub struct Receiver {
    child: Child,
    file: PathBuf,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Receiver {
    pub fn start() -> Self {
        let root = env!("CARGO_MANIFEST_DIR");
        let setup = Command::new(format!("{root}/tests/otlp/setup"))
            .output()
            .expect("run tests/otlp/setup (python3 with venv and pip)");
        assert!(
            setup.status.success(),
            "tests/otlp/setup failed: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let python = String::from_utf8(setup.stdout).unwrap().trim().to_string();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spans.jsonl");
        let mut child = Command::new(python)
            .arg(format!("{root}/tests/otlp/receiver.py"))
            .arg(&file)
            .arg("--whole")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the OTLP receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the receiver prints its port");
        Self {
            child,
            file,
            port,
            _dir: dir,
        }
    }

    pub fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|s| s.get("name").is_some())
            .collect()
    }

    /// Everything the receiver got, as text.
    pub fn everything(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }

    /// Waits until a span satisfies `found` (the exporter sends in batches).
    pub async fn wait_for(&self, found: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans = self.spans();
            if spans.iter().any(&found) {
                return spans;
            }
            assert!(Instant::now() < deadline, "no such span; got {spans:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// OTLP's SpanKind values.
const SERVER: i64 = 2;
const CLIENT: i64 = 3;

#[tokio::test]
async fn spans_reach_a_real_otlp_receiver_in_the_callers_trace_without_secrets() {
    let app = spawn_app().await;
    let email = "ann@acme.example";
    app.connect(email, "user", "Member").await;
    let receiver = Receiver::start();
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let mut vars: Vec<(&str, &str)> = app
        .vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    vars.extend([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "tokenbroker-under-test"),
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        // Every token is inside the window: each call refreshes at Zoom.
        ("TOKENBROKER_REFRESH_AHEAD_SECS", "7200"),
        ("RUST_LOG", "warn"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), "otlp", port, &vars).await;
    let refreshes = app.counters().refresh_token;

    let response = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/orgs/acme/users/{email}/token"
        ))
        .bearer_auth(&app.api_key)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token: Value = response.json().await.unwrap();
    assert_eq!(app.counters().refresh_token, refreshes + 1, "it refreshed");

    let spans = receiver
        .wait_for(|s| s["trace_id"] == TRACE_ID && s["name"] == "zoom refresh_token")
        .await;
    let ours: Vec<&Value> = spans.iter().filter(|s| s["trace_id"] == TRACE_ID).collect();
    let request = ours
        .iter()
        .find(|s| s["name"] == "GET /api/v1/orgs/{org}/users/{email}/token")
        .unwrap_or_else(|| panic!("no request span: {ours:#?}"));
    assert_eq!(request["parent_span_id"], CALLER_SPAN, "the caller's trace");
    assert_eq!(request["kind"], SERVER);
    assert_eq!(
        request["attributes"]["status"]
            .to_string()
            .trim_matches('"'),
        "200"
    );
    assert_eq!(
        request["resource"]["service.name"],
        "tokenbroker-under-test"
    );
    let zoom = ours
        .iter()
        .find(|s| s["name"] == "zoom refresh_token")
        .unwrap();
    assert_eq!(zoom["parent_span_id"], request["span_id"], "{ours:#?}");
    assert_eq!(zoom["kind"], CLIENT);
    assert_eq!(zoom["attributes"]["outcome"], "ok");

    // Without a traceparent the broker starts a trace of its own.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let spans = receiver.wait_for(|s| s["name"] == "GET /healthz").await;
    let health = spans.iter().find(|s| s["name"] == "GET /healthz").unwrap();
    assert_ne!(health["trace_id"], TRACE_ID);
    assert_eq!(health["parent_span_id"], "");

    server.terminate();
    let everything = receiver.everything();
    let key_secret = app.api_key.rsplit('_').next().unwrap();
    let secrets = [
        token["access_token"].as_str().unwrap(),
        key_secret,
        app.vars["ZOOM_CLIENT_SECRET"].as_str(),
        app.vars["TOKENBROKER_MASTER_KEY"].as_str(),
        email,
    ];
    for secret in secrets {
        assert!(!everything.contains(secret), "the receiver got {secret:?}");
    }
    // The decoder's JSON form carries ids in base64, the rest as text:
    // check the search can find what is there.
    assert!(everything.contains("tokenbroker-under-test"));
}

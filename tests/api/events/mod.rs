//! Events to the CRM (issue 12): outbox, signed delivery, retries, replicas,
//! restarts, and the replay API. This file: a receiver and helpers.

mod delivery;
mod flow;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{spawn_app_with, TestApp};

/// A receiver's secret: 32 random-looking bytes, `whsec_` + base64.
pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A CRM endpoint on a random port: records every POST and answers with the
/// scripted statuses in turn (then 200), after an optional pause.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Got>>>,
    pub script: Arc<Mutex<VecDeque<(u16, u64)>>>,
    pub always: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let receiver = Receiver {
            url,
            got: Arc::default(),
            script: Arc::default(),
            always: Arc::new(Mutex::new(200)),
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    state.got.lock().unwrap().push(Got {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body,
                    });
                    let next = state.script.lock().unwrap().pop_front();
                    let (status, pause) = next.unwrap_or((*state.always.lock().unwrap(), 0));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    AxumStatus::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        receiver
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "waited for {what}; got {got:#?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The signature recomputed from the spec's text alone: HMAC-SHA256 with
/// the base64-decoded part after `whsec_`, over `id.timestamp.body`.
pub(crate) fn expected_signature(secret: &str, got: &Got) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", got.id, got.timestamp, got.body).as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

pub(crate) fn assert_signed(got: &Got) {
    assert!(got.id.starts_with("msg_"), "{got:?}");
    let ts: i64 = got
        .timestamp
        .parse()
        .expect("webhook-timestamp is unix seconds");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - ts).abs() < 60, "timestamp {ts} is not now ({now})");
    assert_eq!(got.signature, expected_signature(SECRET, got), "{got:?}");
}

pub(crate) async fn app_sending_to(receiver: &Receiver, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
        ("TOKENBROKER_EVENTS_SECRET", SECRET),
        ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        ("TOKENBROKER_EVENTS_RETRY_BASE_MS", "50"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

pub(crate) async fn events(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/events{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until the API shows every listed event in `status`.
pub(crate) async fn wait_status(app: &TestApp, status: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page = events(app, "").await;
        let list = page["events"].as_array().unwrap().clone();
        if list.len() == count && list.iter().all(|e| e["status"] == status) {
            return list;
        }
        assert!(Instant::now() < deadline, "waited for {status}: {page:#}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(crate) fn types(got: &[Got]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for g in got {
        if ids.insert(g.id.clone()) {
            seen.push(g.json()["type"].as_str().unwrap().to_string());
        }
    }
    seen
}

pub(crate) async fn deauthorize_in_sandbox(app: &TestApp, email: &str) {
    let response: Value = app
        .api
        .post(format!("{}/_sandbox/deauthorize", app.sandbox_url))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["deliveries"], json!([204]), "{response}");
}

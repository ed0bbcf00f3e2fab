//! Events to the CRM (issue 12): outbox, signed delivery, retries, replicas,
//! restarts, and the replay API.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{error_code, spawn_app_with, TestApp};

/// A receiver's secret: 32 random-looking bytes, `whsec_` + base64.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A CRM endpoint on a random port: records every POST and answers with the
/// scripted statuses in turn (then 200), after an optional pause.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<(u16, u64)>>>,
    always: Arc<Mutex<u16>>,
}

impl Receiver {
    async fn start() -> Receiver {
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

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what arrived.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
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
fn expected_signature(secret: &str, got: &Got) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", got.id, got.timestamp, got.body).as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn assert_signed(got: &Got) {
    assert!(got.id.starts_with("msg_"), "{got:?}");
    let ts: i64 = got
        .timestamp
        .parse()
        .expect("webhook-timestamp is unix seconds");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - ts).abs() < 60, "timestamp {ts} is not now ({now})");
    assert_eq!(got.signature, expected_signature(SECRET, got), "{got:?}");
}

async fn app_sending_to(receiver: &Receiver, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
        ("TOKENBROKER_EVENTS_SECRET", SECRET),
        ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        ("TOKENBROKER_EVENTS_RETRY_BASE_MS", "50"),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

async fn events(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/events{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until the API shows every listed event in `status`.
async fn wait_status(app: &TestApp, status: &str, count: usize) -> Vec<Value> {
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

fn types(got: &[Got]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for g in got {
        if ids.insert(g.id.clone()) {
            seen.push(g.json()["type"].as_str().unwrap().to_string());
        }
    }
    seen
}

async fn deauthorize_in_sandbox(app: &TestApp, email: &str) {
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

#[tokio::test]
async fn every_change_emits_its_event_signed_per_standard_webhooks() {
    let receiver = Receiver::start().await;
    let app = app_sending_to(&receiver, &[]).await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    receiver.wait_for("created", |g| g.len() == 1).await;
    app.connect("ann@acme.example", "user", "Member").await;
    receiver.wait_for("reauthorized", |g| g.len() == 2).await;

    let bob = app.connect("bob@acme.example", "user", "Member").await;
    receiver.wait_for("bob created", |g| g.len() == 3).await;
    deauthorize_in_sandbox(&app, "bob@acme.example").await;
    receiver.wait_for("revoked", |g| g.len() == 4).await;

    // A refresh refused with invalid_grant: the user must authorize again.
    app.app.clock.advance(3_600);
    app.sandbox.add_fault(tokenbroker::sandbox::Fault {
        endpoint: "token".into(),
        status: Some(400),
        delay_ms: 0,
        count: 1,
        error: Some("invalid_grant".into()),
        reason: Some("Invalid Token!".into()),
        drop_connection: false,
    });
    error_code(app.token("ann@acme.example").await, StatusCode::CONFLICT).await;
    receiver.wait_for("needs_reauth", |g| g.len() == 5).await;

    let deleted = app
        .delete(&format!("/api/v1/orgs/acme/connections/{ann}"))
        .await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let got = receiver.wait_for("all six", |g| g.len() == 6).await;

    assert_eq!(
        types(&got),
        [
            "connection.created",
            "connection.reauthorized",
            "connection.created",
            "connection.revoked",
            "connection.needs_reauth",
            "connection.deleted",
        ]
    );
    for g in &got {
        assert_signed(g);
    }
    let bodies: Vec<Value> = got.iter().map(Got::json).collect();
    let data = |i: usize| bodies[i]["data"].clone();
    assert_eq!(
        data(0),
        json!({"org": "acme", "connection_id": ann, "email": "ann@acme.example",
               "app_type": "user", "status": "active"})
    );
    assert_eq!(data(3)["connection_id"], bob);
    assert_eq!(data(3)["status"], "revoked");
    assert!(data(3)["reason"].is_string());
    assert_eq!(data(4)["status"], "needs_reauth");
    assert!(data(4)["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(data(5)["connection_id"], ann);
    for body in &bodies {
        let ts = body["timestamp"].as_str().unwrap();
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
            .expect("timestamp is RFC 3339");
    }

    // The replay API shows the same events, delivered, in the same order.
    let listed = wait_status(&app, "delivered", 6).await;
    let ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let sent: Vec<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, sent);
    assert_eq!(listed[2]["type"], "connection.created");
    assert_eq!(listed[2]["data"], bodies[2]["data"]);
    assert_eq!(listed[2]["attempts"], 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_the_same_webhook_id() {
    let receiver = Receiver::start().await;
    receiver
        .script
        .lock()
        .unwrap()
        .extend([(500, 0), (503, 0), (200, 0)]);
    let app = app_sending_to(&receiver, &[]).await;
    app.connect("ann@acme.example", "user", "Member").await;
    let got = receiver.wait_for("three tries", |g| g.len() == 3).await;
    assert!(got.iter().all(|g| g.id == got[0].id), "{got:#?}");
    assert!(got.iter().all(|g| g.body == got[0].body));
    for g in &got {
        assert_signed(g);
    }
    let listed = wait_status(&app, "delivered", 1).await;
    assert_eq!(listed[0]["attempts"], 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.got().len(),
        3,
        "a delivered event is not sent again"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tokenbroker_event_deliveries_total{outcome="retried"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"tokenbroker_event_deliveries_total{outcome="delivered"} 1"#));
}

#[tokio::test]
async fn delivery_gives_up_after_the_window_and_the_event_shows_failed() {
    let receiver = Receiver::start().await;
    *receiver.always.lock().unwrap() = 500;
    let app = app_sending_to(&receiver, &[("TOKENBROKER_EVENTS_GIVE_UP_SECS", "1")]).await;
    app.connect("ann@acme.example", "user", "Member").await;
    let listed = wait_status(&app, "failed", 1).await;
    let tries = receiver.got().len();
    assert!(tries >= 2, "retried before giving up: {tries}");
    assert_eq!(listed[0]["attempts"], tries as i64);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"tokenbroker_events{status="failed"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"tokenbroker_events{status="pending"} 0"#));
    assert!(metrics.contains(r#"tokenbroker_event_deliveries_total{outcome="failed"} 1"#));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.got().len(),
        tries,
        "a failed event is not sent again"
    );
}

#[tokio::test]
async fn two_replicas_deliver_each_event_once() {
    let receiver = Receiver::start().await;
    let app = app_sending_to(&receiver, &[]).await;
    let _second = app
        .second_server(&[("TOKENBROKER_EVENTS_POLL_MS", "10")])
        .await;
    let mut expected = 0;
    for i in 0..6 {
        app.connect(&format!("u{i}@acme.example"), "user", "Member")
            .await;
        app.connect(&format!("u{i}@acme.example"), "user", "Member")
            .await;
        expected += 2;
    }
    wait_status(&app, "delivered", expected).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.got();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for g in &got {
        *per_id.entry(g.id.as_str()).or_default() += 1;
    }
    assert_eq!(per_id.len(), expected);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:#?}");
}

#[tokio::test]
async fn events_written_while_nothing_delivers_are_sent_later_and_polling_works_without_a_url() {
    // No URL: events are recorded (and listed) but not sent.
    let app = spawn_app_with(&[]).await;
    app.connect("ann@acme.example", "user", "Member").await;
    let listed = wait_status(&app, "pending", 1).await;
    assert_eq!(listed[0]["attempts"], 0);
    // A replica that can deliver, on the same database, sends it.
    let receiver = Receiver::start().await;
    let _second = app
        .second_server(&[
            ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
            ("TOKENBROKER_EVENTS_SECRET", SECRET),
            ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        ])
        .await;
    let got = receiver
        .wait_for("the stored event", |g| g.len() == 1)
        .await;
    assert_signed(&got[0]);
    assert_eq!(got[0].id, listed[0]["id"]);
    wait_status(&app, "delivered", 1).await;
}

#[tokio::test]
async fn an_event_claimed_by_a_replica_that_died_is_sent_once_its_lease_ends() {
    let app = spawn_app_with(&[]).await;
    app.connect("ann@acme.example", "user", "Member").await;
    // A replica took it and died before recording anything.
    let claimed = app.app.store.claim_events("dead", 1_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let receiver = Receiver::start().await;
    let started = Instant::now();
    let _second = app
        .second_server(&[
            ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
            ("TOKENBROKER_EVENTS_SECRET", SECRET),
            ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        ])
        .await;
    let got = receiver
        .wait_for("the leased event", |g| g.len() == 1)
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "waited for the lease"
    );
    assert_eq!(got[0].id, claimed[0].id);
    // The dead owner's late outcome cannot overwrite the new one.
    let late = tokenbroker::store::Settle::Failed {
        now: 0,
        error: "late".into(),
    };
    wait_status(&app, "delivered", 1).await;
    assert!(!app
        .app
        .store
        .settle_event(claimed[0].seq, "dead", &late)
        .await
        .unwrap());
}

#[tokio::test]
async fn a_change_that_fails_or_changes_nothing_writes_no_event() {
    let app = spawn_app_with(&[]).await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let missing = app
        .delete("/api/v1/orgs/acme/connections/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // A stale version marks nothing.
    let store = &app.app.store;
    assert!(!store.mark_needs_reauth(&id, 99, "stale", 1).await.unwrap());
    let page = events(&app, "").await;
    let list = page["events"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{page:#}");
    assert_eq!(list[0]["type"], "connection.created");
}

#[tokio::test]
async fn the_events_api_pages_and_is_scoped_to_the_keys_org() {
    let app = spawn_app_with(&[]).await;
    for i in 0..3 {
        app.connect(&format!("u{i}@acme.example"), "user", "Member")
            .await;
    }
    let first = events(&app, "?limit=2").await;
    let next = first["next"].as_str().unwrap().to_string();
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(next, first["events"][1]["id"]);
    let second = events(&app, &format!("?after={next}&limit=2")).await;
    assert_eq!(second["events"].as_array().unwrap().len(), 1);
    assert!(second.get("next").is_none(), "{second}");
    let last = second["events"][0]["id"].as_str().unwrap();
    let empty = events(&app, &format!("?after={last}")).await;
    assert_eq!(empty["events"], json!([]));

    for bad in ["?limit=0", "?limit=1001", "?limit=x"] {
        let r = app.get(&format!("/api/v1/events{bad}")).await;
        assert_eq!(
            error_code(r, StatusCode::BAD_REQUEST).await,
            "invalid_limit"
        );
    }
    let r = app.get("/api/v1/events?after=msg_unknown").await;
    assert_eq!(
        error_code(r, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );

    // Another org's key sees none of acme's events, nor acme's cursor.
    let (_, other) = app.new_org_key("globex").await;
    let theirs: Value = app
        .get_as(&other, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["events"], json!([]));
    let r = app
        .get_as(&other, &format!("/api/v1/events?after={next}"))
        .await;
    assert_eq!(
        error_code(r, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
    let r = app.get_as(&other, "/api/v1/events?org=acme").await;
    assert_eq!(error_code(r, StatusCode::NOT_FOUND).await, "not_found");

    // An all-orgs key names the org.
    let all = app.all_orgs_key().await;
    let r = app.get_as(&all, "/api/v1/events").await;
    assert_eq!(error_code(r, StatusCode::BAD_REQUEST).await, "org_required");
    let named: Value = app
        .get_as(&all, "/api/v1/events?org=acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(named["events"].as_array().unwrap().len(), 3);
    let r = app
        .api
        .get(format!("{}/api/v1/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
}

#[tokio::test]
async fn an_events_url_without_a_valid_secret_is_a_config_error() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        tokenbroker::config::Config::from_lookup(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let err = lookup(&[("TOKENBROKER_EVENTS_URL", "http://crm.example/hooks")])
        .err()
        .unwrap();
    assert_eq!(err.var, "TOKENBROKER_EVENTS_SECRET");
    let err = lookup(&[("TOKENBROKER_EVENTS_SECRET", "not-whsec")])
        .err()
        .unwrap();
    assert_eq!(err.var, "TOKENBROKER_EVENTS_SECRET");
    assert!(!err.to_string().contains("not-whsec"), "{err}");
}

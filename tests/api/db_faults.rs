//! Real database faults, on a throwaway PostgreSQL cluster of the test's own:
//! a restart right after Zoom rotated a refresh token, and an outage under load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use tokenbroker::crypto::{Aad, Keyring};
use tokenbroker::sandbox::{self, Fault, S2sApp};
use tokenbroker::tokens::LOST_ANSWER_REASON;

use crate::helpers::{spawn_app_on, TestApp, TestDb};
use crate::pg_cluster::PgCluster;
use crate::process::{free_port, run, Server};

/// How long each outage lasts: a PostgreSQL restart that takes its time.
const OUTAGE: Duration = Duration::from_secs(12);

async fn stored_refresh_token(app: &TestApp, id: &str) -> Option<(i64, String)> {
    let row = app.app.store.connection_by_id(id).await.ok()??;
    let sealed = row.refresh_token.as_deref()?;
    let aad = Aad::new("connections", id, "refresh_token");
    Some((
        row.version,
        app.app.keyring.open_string(aad, sealed).unwrap(),
    ))
}

#[tokio::test]
async fn a_rotated_pair_survives_a_postgres_restart() {
    let mut pg = PgCluster::start().await;
    let app = spawn_app_on(pg.url(), TestDb::Postgres, &[]).await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let (version, old_refresh) = stored_refresh_token(&app, &id).await.unwrap();
    app.app.clock.advance(3_600);
    // Zoom rotates at once and answers 3 s later, into the outage.
    let answer_delay = Duration::from_secs(3);
    app.sandbox.add_fault(Fault {
        endpoint: "token".into(),
        delay_ms: answer_delay.as_millis() as u64,
        count: 1,
        ..Fault::default()
    });
    let caller = tokio::spawn({
        let (url, key) = (
            format!("{}/api/v1/orgs/acme/users/ann@acme.example/token", app.base),
            app.api_key.clone(),
        );
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.counters().refresh_token == 0 {
        assert!(Instant::now() < deadline, "the refresh never reached Zoom");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rotated_at = Instant::now();
    pg.stop();
    let stopped_at = Instant::now();
    assert!(
        stopped_at + Duration::from_millis(500) < rotated_at + answer_delay,
        "the answer must arrive while the database is down"
    );
    let waiting = caller.await.unwrap();
    assert_eq!(waiting.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(waiting.headers().contains_key("retry-after"));

    tokio::time::sleep_until((stopped_at + OUTAGE).into()).await;
    pg.resume().await;
    let back_at = Instant::now();
    let new_refresh = loop {
        match stored_refresh_token(&app, &id).await {
            Some((v, refresh)) if v > version => break refresh,
            _ => {}
        }
        assert!(
            back_at.elapsed() < Duration::from_secs(10),
            "the pair was never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "pair stored {:?} after the database returned",
        back_at.elapsed()
    );
    assert_ne!(
        new_refresh, old_refresh,
        "the rotated refresh token was kept"
    );

    // The next refresh presents the rotated token: no reuse at Zoom.
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    app.app.clock.advance(3_600);
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    let counters = app.counters();
    assert_eq!((counters.refresh_token, counters.refresh_reuse), (2, 0));
    assert_eq!(app.connections().await[0]["status"], "active");
}

#[tokio::test]
async fn a_pair_not_stored_while_the_lease_lasts_is_named_lost_later() {
    let mut pg = PgCluster::start().await;
    // A lease of 2 + 1 + 5 = 8 s, shorter than the outage.
    let timing = [
        ("TOKENBROKER_REFRESH_ANSWER_TIMEOUT_SECS", "2"),
        ("TOKENBROKER_STORE_RETRY_SECS", "1"),
    ];
    let app = spawn_app_on(pg.url(), TestDb::Postgres, &timing).await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    app.sandbox.add_fault(Fault {
        endpoint: "token".into(),
        delay_ms: 1_000,
        count: 1,
        ..Fault::default()
    });
    let caller = tokio::spawn({
        let (url, key) = (
            format!("{}/api/v1/orgs/acme/users/ann@acme.example/token", app.base),
            app.api_key.clone(),
        );
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.counters().refresh_token == 0 {
        assert!(Instant::now() < deadline, "the refresh never reached Zoom");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pg.stop();
    assert_eq!(
        caller.await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // The refresh task gives up once its lease is about to end.
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.app.refresher.in_flight() > 0 {
        assert!(Instant::now() < deadline, "the refresh task never gave up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.resume().await;
    let text = app
        .api
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    let text = text.text().await.unwrap();
    assert!(
        text.contains(
            r#"tokenbroker_token_refreshes_total{kind="oauth",outcome="store_failed"} 1"#
        ),
        "{text}"
    );
    // Zoom's rotation is lost with the pair: the next refresh replays the
    // spent token, and the reason says what happened.
    let deadline = Instant::now() + Duration::from_secs(15);
    let dead = loop {
        let response = app.token("ann@acme.example").await;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            break response;
        }
        assert!(Instant::now() < deadline, "the connection never settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.connections().await[0]["status_reason"],
        LOST_ANSWER_REASON
    );
}

/// One answer seen by the load: when it was sent, what, how, and how fast.
struct Sample {
    path: String,
    sent: Instant,
    readiness: bool,
    status: StatusCode,
    retry_after: bool,
    elapsed: Duration,
}

#[tokio::test]
async fn a_database_outage_answers_within_two_seconds_and_recovers() {
    let mut pg = PgCluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox::Sandbox::new(3_600);
    sandbox.register_s2s_app(S2sApp {
        account_id: "acct-9".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let zoom = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sandbox::launch_with_tcp_listener(
        listener,
        sandbox,
        std::future::pending(),
    ));
    let (db, master, api) = (pg.url(), Keyring::generate_key_b64(), format!("{zoom}/v2"));
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("TOKENBROKER_MASTER_KEY", master.as_str()),
        ("ZOOM_OAUTH_URL", zoom.as_str()),
        ("ZOOM_API_URL", api.as_str()),
        ("ZOOM_CLIENT_ID", "client"),
        ("ZOOM_CLIENT_SECRET", "secret"),
        // The background refresher keeps sweeping through the outage.
        ("TOKENBROKER_REFRESH_SWEEP_SECS", "1"),
    ];
    assert!(run(dir.path(), &["org", "create", "acme"], &vars)
        .status
        .success());
    let key_out = run(dir.path(), &["api-key", "create", "--org", "acme"], &vars);
    let key = String::from_utf8(key_out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let port = free_port();
    let mut server = Server::start(dir.path(), "outage", port, &vars).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let put = client
        .put(format!("{base}/api/v1/orgs/acme/s2s-credentials"))
        .bearer_auth(&key)
        .json(
            &json!({ "email": "ops@acme.example", "account_id": "acct-9",
                       "client_id": "s2s-id", "client_secret": "s2s-secret" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);

    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (client, key, base) = (client.clone(), key.clone(), base.clone());
            let (samples, stop) = (samples.clone(), stop.clone());
            tokio::spawn(async move {
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let path = match (worker + round) % 3 {
                        0 => format!("/api/v1/orgs/acme/users/u{worker}@acme.example/token"),
                        1 => "/api/v1/orgs/acme/connections".to_string(),
                        _ => "/readyz".to_string(),
                    };
                    let sent = Instant::now();
                    let response = client
                        .get(format!("{base}{path}"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .expect("the broker always answers");
                    let sample = Sample {
                        path: path.clone(),
                        sent,
                        readiness: path == "/readyz",
                        status: response.status(),
                        retry_after: response.headers().contains_key("retry-after"),
                        elapsed: sent.elapsed(),
                    };
                    if sample.status == StatusCode::SERVICE_UNAVAILABLE && !sample.readiness {
                        let body: Value = response.json().await.unwrap();
                        assert_eq!(body["error"], "database_unavailable", "{body}");
                    }
                    samples.lock().unwrap().push(sample);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.stop();
    let down_at = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    let restart_at = Instant::now();
    pg.resume().await;
    let up_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(7)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the broker exited: {}",
        server.output()
    );

    let samples = samples.lock().unwrap();
    let during = |s: &&Sample| {
        s.sent > down_at + Duration::from_millis(1_100) && s.sent + s.elapsed < restart_at
    };
    let mut last_failure = None;
    for s in samples.iter() {
        assert!(
            s.status == StatusCode::OK
                || (s.status == StatusCode::SERVICE_UNAVAILABLE && s.retry_after),
            "{} after {:?}",
            s.status,
            s.elapsed
        );
        let limit = Duration::from_millis(if s.readiness { 1_000 } else { 2_000 });
        assert!(
            s.elapsed < limit,
            "{:?} for {}",
            s.elapsed,
            if s.readiness { "/readyz" } else { "the API" }
        );
        if s.status != StatusCode::OK && s.sent >= up_at {
            last_failure = Some(s.sent + s.elapsed - up_at);
        }
    }
    let outage: Vec<_> = samples.iter().filter(during).collect();
    assert!(
        outage.iter().any(|s| s.readiness),
        "/readyz was asked during the outage"
    );
    // Past the first second, nothing is served from the token micro-cache.
    for s in &outage {
        assert_eq!(
            s.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{} {:?} after the stop",
            s.path,
            s.sent - down_at
        );
    }
    let recovered = last_failure.unwrap_or_default();
    eprintln!(
        "{} answers, {} during the outage (max {:?}); every call succeeds {:?} after the database returned",
        samples.len(),
        outage.len(),
        outage.iter().map(|s| s.elapsed).max().unwrap_or_default(),
        recovered
    );
    assert!(
        recovered < Duration::from_secs(5),
        "recovery took {recovered:?}"
    );
    let after: Vec<_> = samples
        .iter()
        .filter(|s| s.sent > up_at + Duration::from_secs(5))
        .collect();
    assert!(!after.is_empty() && after.iter().all(|s| s.status == StatusCode::OK));
    drop(samples);
    assert!(server.terminate().success());
}

//! A database outage under load, against a real `tokenbroker serve` on a
//! throwaway PostgreSQL cluster: every answer is 200 from memory or 503 with
//! `Retry-After` within 2 s, `/readyz` answers 503 within 1 s, the process
//! stays up, and calls succeed again as soon as the database is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use tokenbroker::crypto::Keyring;
use tokenbroker::sandbox::{self, S2sApp};

use crate::db_faults::OUTAGE;
use crate::pg_cluster::PgCluster;
use crate::process::{free_port, run, Server};

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
    let slowest = |readiness: bool| {
        let of_kind = outage.iter().filter(|s| s.readiness == readiness);
        of_kind.map(|s| s.elapsed).max().unwrap_or_default()
    };
    eprintln!(
        "{} answers, {} during the outage (slowest: API {:?}, /readyz {:?}); \
         every call succeeds {:?} after the database returned",
        samples.len(),
        outage.len(),
        slowest(false),
        slowest(true),
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

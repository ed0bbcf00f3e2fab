//! The failover drill: two real `serve` processes under a refresh-heavy
//! load; the primary is killed (SIGKILL, with every backend) while refreshes
//! are in flight, and the synchronous standby is promoted.
//!
//! - every answer is 200 or 503 with `Retry-After`, within 2 s; `/readyz`
//!   answers 503 until the promotion; every call succeeds within 5 s after it;
//! - no grant is lost: Zoom never sees a spent refresh token again, and
//!   every connection refreshes afterwards;
//! - events written before the crash (held back by the CRM) are delivered
//!   after it, once each, under their first `webhook-id`;
//! - both invalidation listeners are back on the new primary, and a key
//!   revoked there stops working on both replicas.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::{email, metric_line, on_postgres_run, revocation_reaches, Pair, SYNC};
use crate::events::{Receiver, SECRET};
use crate::helpers::{spawn_app_on, TestDb};
use crate::process::{free_port, Server};

const USERS: usize = 6;

struct Sample {
    sent: Instant,
    done: Instant,
    readiness: bool,
    status: StatusCode,
    retry_after: bool,
}

#[tokio::test]
async fn a_primary_killed_mid_refresh_loses_no_grant_with_synchronous_replication() {
    if !on_postgres_run("failover drill") {
        return;
    }
    let mut pair = Pair::start(SYNC).await;
    let receiver = Receiver::start().await;
    // The CRM is down until after the failover: events pile up in the outbox.
    *receiver.always.lock().unwrap() = 503;
    let events = [
        ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
        ("TOKENBROKER_EVENTS_SECRET", SECRET),
        ("TOKENBROKER_EVENTS_RETRY_BASE_MS", "200"),
        ("TOKENBROKER_EVENTS_RETRY_CAP_MS", "1000"),
        ("TOKENBROKER_EVENTS_POLL_MS", "200"),
    ];
    let app = spawn_app_on(pair.url(), TestDb::Postgres, &events).await;
    // Tokens live 3000 s, inside the replicas' 3500 s refresh window.
    app.sandbox.set_access_ttl(3_000);
    for i in 0..USERS {
        app.connect(&email(i), "user", "Member").await;
    }
    let admin = app.all_orgs_key().await;
    let (victim_row, victim) =
        tokenbroker::service::api_keys::new_api_key(Some(app.org.id.clone()), None, 0);
    app.app.store.insert_api_key(&victim_row).await.unwrap();

    // Two replicas; every token is inside the refresh window, so every
    // call refreshes (and rotates) through the lease.
    let dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> = app.vars.clone().into_iter().collect();
    vars.push(("TOKENBROKER_REFRESH_AHEAD_SECS".into(), "3500".into()));
    // A caller waits 1 s for a refresh; the refresh itself goes on.
    vars.push(("TOKENBROKER_UPSTREAM_TIMEOUT_SECS".into(), "1".into()));
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = Server::start(dir.path(), "a", port_a, &vars).await;
    let mut b = Server::start(dir.path(), "b", port_b, &vars).await;
    let bases = [
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    ];
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let held_back = receiver
        .wait_for("every connection.created tried once", |got| {
            got.iter().map(|g| &g.id).collect::<HashSet<_>>().len() >= USERS
        })
        .await;
    let ids_before: HashSet<String> = held_back.iter().map(|g| g.id.clone()).collect();

    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    // Six workers ask for tokens, two for /readyz (one per replica).
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (api, key, bases) = (api.clone(), app.api_key.clone(), bases.clone());
            let (samples, stop) = (samples.clone(), stop.clone());
            tokio::spawn(async move {
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    let base = &bases[if worker >= 6 {
                        worker % 2
                    } else {
                        (worker + round) % 2
                    }];
                    let readiness = worker >= 6;
                    let path = if readiness {
                        "/readyz".to_string()
                    } else {
                        format!(
                            "/api/v1/orgs/acme/users/{}/token",
                            email((worker + round) % USERS)
                        )
                    };
                    let sent = Instant::now();
                    let answer = api
                        .get(format!("{base}{path}"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .expect("the broker always answers");
                    let sample = Sample {
                        sent,
                        done: Instant::now(),
                        readiness,
                        status: answer.status(),
                        retry_after: answer.headers().contains_key("retry-after"),
                    };
                    if !matches!(
                        sample.status,
                        StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE
                    ) {
                        panic!("{path}: {} {}", sample.status, answer.text().await.unwrap());
                    }
                    samples.lock().unwrap().push(sample);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // Zoom now rotates at once and answers 300 ms later, so that refreshes
    // are in flight when the primary dies: their pairs must still be kept.
    // (40 slow answers: about 16 before the kill, the rest after the promotion.)
    app.fault("token", None, 300, 40);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rotated_300ms_before = app.counters().refresh_token;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refreshes_before = app.counters().refresh_token;
    // Rotated at Zoom, answer still on its way when the primary dies.
    let rotations_in_flight = refreshes_before - rotated_300ms_before;
    assert!(
        rotations_in_flight > 0,
        "no refresh was in flight at the kill"
    );
    let killed = Instant::now();
    pair.primary.kill();
    // What an HA manager takes to decide (Patroni: its loop_wait and TTL).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let promote_started = Instant::now();
    let promoted = {
        pair.standby.promote().await;
        Instant::now()
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    for server in [&mut a, &mut b] {
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "a replica exited: {}",
            server.output()
        );
    }

    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let mut last_failure = Duration::ZERO;
    for s in &samples {
        assert!(
            s.status == StatusCode::OK || s.retry_after,
            "503 without Retry-After"
        );
        let took = s.done - s.sent;
        assert!(took < Duration::from_secs(2), "an answer took {took:?}");
        if s.status != StatusCode::OK && s.sent >= promoted {
            last_failure = last_failure.max(s.done - promoted);
        }
    }
    let outage: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.readiness && s.sent > killed + Duration::from_millis(200) && s.done < promote_started
        })
        .collect();
    assert!(!outage.is_empty(), "/readyz was asked during the outage");
    assert!(
        outage
            .iter()
            .all(|s| s.status == StatusCode::SERVICE_UNAVAILABLE),
        "/readyz said 200 with no primary"
    );
    assert!(
        last_failure < Duration::from_secs(5),
        "calls failed until {last_failure:?} after the promotion"
    );
    let ok_after = samples
        .iter()
        .filter(|s| s.sent > promoted + Duration::from_secs(5))
        .collect::<Vec<_>>();
    assert!(!ok_after.is_empty() && ok_after.iter().all(|s| s.status == StatusCode::OK));

    // No grant lost: Zoom never saw a spent refresh token, and every
    // connection refreshes once more through each replica.
    assert_eq!(
        app.counters().refresh_reuse,
        0,
        "a rotated refresh token came back"
    );
    for base in &bases {
        let refreshes = app.counters().refresh_token;
        for i in 0..USERS {
            let answer = api
                .get(format!("{base}/api/v1/orgs/acme/users/{}/token", email(i)))
                .bearer_auth(&app.api_key)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::OK, "{}", email(i));
        }
        assert_eq!(app.counters().refresh_token, refreshes + USERS as u64);
    }
    assert_eq!(app.counters().refresh_reuse, 0);
    let listed = app.connections().await;
    assert!(listed.iter().all(|c| c["status"] == "active"), "{listed:?}");

    // Events held back before the crash arrive now, each once, same id.
    let flipped = receiver.got().len();
    *receiver.always.lock().unwrap() = 200;
    let got = receiver
        .wait_for("the held-back events after the failover", |got| {
            let after: HashSet<&String> = got[flipped..].iter().map(|g| &g.id).collect();
            ids_before.iter().all(|id| after.contains(id))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for g in &receiver.got()[flipped..] {
        *delivered.entry(g.id.clone()).or_default() += 1;
    }
    assert!(
        delivered.values().all(|n| *n == 1),
        "an event was delivered twice: {delivered:?}"
    );
    drop(got);

    // Both listeners are on the new primary; a revocation there reaches both.
    for base in &bases {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !metric_line(&api, base, "tokenbroker_invalidation_listener_up 1").await {
            assert!(Instant::now() < deadline, "{base}: listener not back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ok = api
            .get(format!("{base}/api/v1/orgs/acme/connections"))
            .bearer_auth(&victim)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let reached = revocation_reaches(&api, &bases, &admin, &victim_row.id, &victim).await;
    eprintln!(
        "failover drill: {} answers, {rotations_in_flight} refreshes in flight at the kill, \
         {} /readyz 503 during the outage, promotion took {:?}, every call OK {:?} after it; \
         {} upstream refreshes before the kill, {} after the drill, 0 reused; \
         {} held-back events delivered once each; key revocation reached both replicas in {:?}",
        samples.len(),
        outage.len(),
        promoted - promote_started,
        last_failure,
        refreshes_before,
        app.counters().refresh_token,
        ids_before.len(),
        reached
    );
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

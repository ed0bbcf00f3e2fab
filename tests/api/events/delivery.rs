//! Delivery: retries, give-up, replicas, restarts, leases.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::helpers::spawn_app_with;

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
    // Event times are whole seconds, so a 1 s window can be 0.1 s long; 2 s
    // leaves at least one second for retries 50 ms apart.
    let app = app_sending_to(&receiver, &[("TOKENBROKER_EVENTS_GIVE_UP_SECS", "2")]).await;
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
    // The console shows the org's failed events.
    let (browser, _) = app.admin_browser("boss@acme.example").await;
    let overview: serde_json::Value = browser
        .get(format!("{}/admin/api/overview", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["failed_events"], 1, "{overview:#}");
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
async fn a_broker_killed_mid_delivery_sends_the_event_again_after_restart() {
    use crate::process::{free_port, Server};
    // The test app only writes the event; real `serve` processes deliver it.
    let app = spawn_app_with(&[]).await;
    app.connect("ann@acme.example", "user", "Member").await;
    let receiver = Receiver::start().await;
    // The first delivery hangs: the broker is killed while it waits.
    receiver.script.lock().unwrap().push_back((200, 30_000));
    let dir = tempfile::tempdir().unwrap();
    let (db, master) = (
        app.database_url(),
        tokenbroker::crypto::Keyring::generate_key_b64(),
    );
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("TOKENBROKER_MASTER_KEY", master.as_str()),
        ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
        ("TOKENBROKER_EVENTS_URL", receiver.url.as_str()),
        ("TOKENBROKER_EVENTS_SECRET", SECRET),
        ("TOKENBROKER_EVENTS_POLL_MS", "50"),
        // A 1 s attempt limit makes the lease 3 s.
        ("TOKENBROKER_EVENTS_TIMEOUT_MS", "1000"),
        ("RUST_LOG", "debug"),
    ];
    let mut a = Server::start(dir.path(), "a", free_port(), &vars).await;
    receiver.wait_for("the first try", |g| g.len() == 1).await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let stored = events(&app, "").await;
    assert_eq!(stored["events"][0]["status"], "pending", "{stored:#}");

    let mut b = Server::start(dir.path(), "b", free_port(), &vars).await;
    let got = receiver.wait_for("the retry", |g| g.len() == 2).await;
    assert_eq!(got[0].id, got[1].id, "the same webhook-id");
    assert_signed(&got[1]);
    let listed = wait_status(&app, "delivered", 1).await;
    assert_eq!(
        listed[0]["attempts"], 1,
        "the killed attempt was never recorded"
    );
    assert!(b.terminate().success(), "{}", b.output());
    // Debug logs of both, and not a trace of the signing key.
    let logs = format!("{}\n{}", a.output(), b.output());
    assert!(logs.contains("event delivered"), "{logs}");
    assert!(
        !logs.contains(&SECRET["whsec_".len()..]),
        "the secret was logged"
    );
}

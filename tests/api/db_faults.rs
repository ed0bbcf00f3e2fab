//! Real database faults, on a throwaway PostgreSQL cluster of the test's own:
//! a restart right after Zoom rotated a refresh token, and one that outlasts
//! the refresh lease.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use tokenbroker::crypto::Aad;
use tokenbroker::sandbox::Fault;
use tokenbroker::tokens::LOST_ANSWER_REASON;

use crate::helpers::{spawn_app_on, TestApp, TestDb};
use crate::pg_cluster::PgCluster;

/// How long each outage lasts: a PostgreSQL restart that takes its time.
pub const OUTAGE: Duration = Duration::from_secs(12);

async fn stored_refresh_token(app: &TestApp, id: &str) -> Option<(i64, String)> {
    let row = app.app.store.connection_by_id(id).await.ok()??;
    let sealed = row.refresh_token.as_deref()?;
    let aad = Aad::new(
        tokenbroker::crypto::SealedColumn::CONNECTION_REFRESH_TOKEN,
        id,
    );
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

//! Asynchronous replication loses an acknowledged rotation in a failover.
//! The broker cannot get it back (Zoom has spent the old refresh token), but
//! it must notice: the connection is marked needs_reauth with the reason,
//! never served as healthy.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use tokenbroker::domain::ConnectionStatus;
use tokenbroker::tokens::LOST_WRITE_REASON;

use super::{on_postgres_run, Pair};
use crate::helpers::{spawn_app_on, TestDb};

#[tokio::test]
async fn a_rotation_lost_by_asynchronous_replication_is_named_not_served() {
    if !on_postgres_run("async_loss") {
        return;
    }
    let mut pair = Pair::start(&[]).await;
    let app = spawn_app_on(pair.url(), TestDb::Postgres, &[]).await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    pair.wait_caught_up().await;
    pair.cut_off_standby().await;

    // The token is due; this refresh's rotation is acknowledged by the
    // primary alone.
    app.app.clock.advance(3_600);
    let first = app.token("ann@acme.example").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(app.counters().refresh_token, 1);

    pair.fail_over().await;
    // Until the broker is on the new primary: 200 (from memory) or 503.
    let deadline = Instant::now() + Duration::from_secs(15);
    let refused = loop {
        let answer = app.token("ann@acme.example").await;
        match answer.status() {
            StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE => {}
            _ => break answer,
        }
        assert!(
            Instant::now() < deadline,
            "the lost rotation was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "reauthorization_required", "{body}");

    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.status, ConnectionStatus::NeedsReauth);
    assert_eq!(row.status_reason.as_deref(), Some(LOST_WRITE_REASON));
    // Zoom saw the spent refresh token come back exactly once.
    assert_eq!(app.counters().refresh_reuse, 1);
    let listed = app.connections().await;
    assert_eq!(listed[0]["status"], "needs_reauth", "{listed:?}");
}

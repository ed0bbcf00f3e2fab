//! The refresh lease as the store keeps it: timed by the database's clock,
//! fenced by its owner, and remembering a refresh whose answer was lost.

use std::time::{Duration, Instant};

use tokenbroker::store::{LeaseEnd, RefreshedTokens, TokenSlot};

use crate::helpers::{spawn_app, TestApp};

const SLOT: TokenSlot = TokenSlot::Connection;

async fn connected(app: &TestApp) -> (String, i64) {
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let row = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    (id, row.version)
}

#[tokio::test]
async fn a_lease_runs_on_the_database_clock() {
    let app = spawn_app().await;
    let (id, version) = connected(&app).await;
    let store = &app.app.store;
    let wall = time::OffsetDateTime::now_utc().unix_timestamp();
    // This process's clock is an hour off; the lease does not care.
    app.app.clock.advance(3_600);
    let taken = store
        .acquire_lease(SLOT, &id, version, "a", 2)
        .await
        .unwrap();
    let until = taken.expect("a free row is leased").until;
    assert!(
        (until - (wall + 2)).abs() <= 1,
        "until {until}, wall {wall}"
    );
    assert!(store
        .acquire_lease(SLOT, &id, version, "b", 2)
        .await
        .unwrap()
        .is_none());
    // Whole seconds: the lease is over between 2 and 3 s later, by the database.
    let started = Instant::now();
    loop {
        if store
            .acquire_lease(SLOT, &id, version, "b", 2)
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the lease never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // A lease is only for the version it was taken at.
    store
        .release_lease(SLOT, &id, "b", LeaseEnd::Settled)
        .await
        .unwrap();
    assert!(store
        .acquire_lease(SLOT, &id, version + 1, "c", 2)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn only_the_lease_holder_may_release_or_store() {
    let app = spawn_app().await;
    let (id, version) = connected(&app).await;
    let store = &app.app.store;
    assert!(store
        .acquire_lease(SLOT, &id, version, "holder", 60)
        .await
        .unwrap()
        .is_some());
    store
        .release_lease(SLOT, &id, "intruder", LeaseEnd::Settled)
        .await
        .unwrap();
    let row = store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!(row.lease_owner.as_deref(), Some("holder"));
    let seal = |col: tokenbroker::crypto::SealedColumn, v: &str| {
        app.app
            .keyring
            .seal_str(tokenbroker::crypto::Aad::new(col, &id), v)
    };
    let mut update = RefreshedTokens {
        id: id.clone(),
        expected_version: version,
        access_token: seal(
            tokenbroker::crypto::SealedColumn::CONNECTION_ACCESS_TOKEN,
            "a2",
        ),
        refresh_token: Some(seal(
            tokenbroker::crypto::SealedColumn::CONNECTION_REFRESH_TOKEN,
            "r2",
        )),
        access_expires_at: 1,
        scopes: None,
        now: 1,
        lease_owner: "intruder".into(),
    };
    assert!(!store.store_refreshed(SLOT, &update).await.unwrap());
    update.lease_owner = "holder".into();
    assert!(store.store_refreshed(SLOT, &update).await.unwrap());
    let row = store.connection_by_id(&id).await.unwrap().unwrap();
    assert_eq!((row.version, row.lease_owner), (version + 1, None));
}

#[tokio::test]
async fn a_lost_answer_is_remembered_until_a_pair_is_stored() {
    let app = spawn_app().await;
    let (id, version) = connected(&app).await;
    let store = &app.app.store;
    let lease =
        |owner: &'static str, v: i64, secs: i64| store.acquire_lease(SLOT, &id, v, owner, secs);
    let lost = |owner: &'static str, v: i64| async move {
        lease(owner, v, 60)
            .await
            .unwrap()
            .unwrap()
            .earlier_answer_lost
    };
    assert!(!lost("a", version).await);
    // Zoom never saw a's call, or refused it: nothing to remember.
    store
        .release_lease(SLOT, &id, "a", LeaseEnd::Settled)
        .await
        .unwrap();
    assert!(!lost("b", version).await);
    // The answer to b's call was lost: every later attempt knows.
    store
        .release_lease(SLOT, &id, "b", LeaseEnd::AnswerLost)
        .await
        .unwrap();
    assert!(lost("c", version).await);
    // c got a plain 5xx: that does not make b's answer any less lost.
    store
        .release_lease(SLOT, &id, "c", LeaseEnd::Settled)
        .await
        .unwrap();
    assert!(lost("d", version).await);
    // A stored pair settles everything before it.
    let seal = |col: tokenbroker::crypto::SealedColumn, v: &str| {
        app.app
            .keyring
            .seal_str(tokenbroker::crypto::Aad::new(col, &id), v)
    };
    let update = RefreshedTokens {
        id: id.clone(),
        expected_version: version,
        access_token: seal(
            tokenbroker::crypto::SealedColumn::CONNECTION_ACCESS_TOKEN,
            "a2",
        ),
        refresh_token: Some(seal(
            tokenbroker::crypto::SealedColumn::CONNECTION_REFRESH_TOKEN,
            "r2",
        )),
        access_expires_at: 1,
        scopes: None,
        now: 1,
        lease_owner: "d".into(),
    };
    assert!(store.store_refreshed(SLOT, &update).await.unwrap());
    let next = version + 1;
    // e is killed mid-call: it never releases its (short) lease.
    assert!(
        !lease("e", next, 1)
            .await
            .unwrap()
            .unwrap()
            .earlier_answer_lost
    );
    let started = Instant::now();
    let taken_over = loop {
        if let Some(grant) = lease("f", next, 60).await.unwrap() {
            break grant;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "e's lease never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        taken_over.earlier_answer_lost,
        "e may have made Zoom rotate"
    );
}

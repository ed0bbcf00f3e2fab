//! The shared rate ledger's SQL, called directly on whichever backend the
//! suite runs on: concurrent claims never grant more than the window's
//! limit, a hold refuses every claim, and ended rows are pruned.

use futures::future::join_all;
use tokenbroker::store::{self, DynStore};

use crate::helpers::{fresh_database, TestDb};

async fn open() -> (DynStore, TestDb) {
    let (url, db) = fresh_database().await;
    (store::connect(&url).await.expect("open test database"), db)
}

#[tokio::test]
async fn concurrent_claims_never_grant_past_the_limit() {
    let (store, _db) = open().await;
    // A day-long window, so the test cannot straddle two of them.
    let claims = (0..25).map(|_| store.claim_permits("acct:light:rate", 86_400_000, 40, 3, 0));
    let granted: i64 = join_all(claims)
        .await
        .into_iter()
        .map(|c| c.unwrap().granted)
        .sum();
    assert_eq!(granted, 40, "25 claims of 3 on a limit of 40");
    let after = store
        .claim_permits("acct:light:rate", 86_400_000, 40, 3, 0)
        .await
        .unwrap();
    assert_eq!(after.granted, 0);
    assert!(after.window_end_ms > after.now_ms);
    // Another bucket has its own count.
    let other = store
        .claim_permits("acct:medium:rate", 86_400_000, 40, 3, 0)
        .await
        .unwrap();
    assert_eq!(other.granted, 3);
}

#[tokio::test]
async fn a_hold_refuses_claims_until_it_ends_and_never_shrinks() {
    let (store, _db) = open().await;
    let first = store
        .claim_permits("acct:heavy:rate", 1000, 10, 1, 0)
        .await
        .unwrap();
    let until = first.now_ms + 60_000;
    store
        .hold_bucket("acct:heavy:rate", until, "zoom 429")
        .await
        .unwrap();
    store
        .hold_bucket("acct:heavy:rate", first.now_ms + 5_000, "shorter")
        .await
        .unwrap();
    let held = store
        .claim_permits("acct:heavy:rate", 1000, 10, 1, 0)
        .await
        .unwrap();
    assert_eq!(held.granted, 0);
    assert_eq!(
        held.held_until_ms,
        Some(until),
        "a shorter hold never shortens it"
    );
    // An ended hold no longer counts.
    store
        .hold_bucket("acct:light:rate", first.now_ms - 1, "ended")
        .await
        .unwrap();
    let free = store
        .claim_permits("acct:light:rate", 1000, 10, 1, 0)
        .await
        .unwrap();
    assert_eq!((free.granted, free.held_until_ms), (1, None));
    let pruned = store.prune_budgets(first.now_ms + 120_000).await.unwrap();
    assert!(
        pruned >= 3,
        "windows and holds that ended are dropped: {pruned}"
    );
}

#[tokio::test]
async fn the_next_window_is_counted_apart_from_the_current_one() {
    let (store, _db) = open().await;
    let now = store
        .claim_permits("acct:x:rate", 60_000, 5, 5, 0)
        .await
        .unwrap();
    let next = store
        .claim_permits("acct:x:rate", 60_000, 5, 5, 1)
        .await
        .unwrap();
    assert_eq!(next.granted, 5, "the next window has its own permits");
    // A minute boundary may pass between the two claims; the ends still differ by one window.
    assert!(next.window_end_ms - now.window_end_ms <= 60_000);
    assert!(next.window_end_ms > now.window_end_ms);
    assert_eq!(
        store
            .claim_permits("acct:x:rate", 60_000, 5, 1, 1)
            .await
            .unwrap()
            .granted,
        0
    );
}

//! The shared rate ledger's SQL, called directly on whichever backend the
//! suite runs on: concurrent claims never grant more than the window's
//! limit, a hold refuses every claim, and ended rows are pruned.

use futures::future::join_all;
use tokenbroker::store::{self, ClaimWindow, DynStore};

use crate::helpers::{fresh_database, TestDb};

async fn open() -> (DynStore, TestDb) {
    let (url, db) = fresh_database().await;
    (store::connect(&url).await.expect("open test database"), db)
}

#[tokio::test]
async fn concurrent_claims_never_grant_past_the_limit() {
    let (store, _db) = open().await;
    // A day-long window, so the test cannot straddle two of them.
    let claims = (0..25)
        .map(|_| store.claim_permits("acct:light:rate", 86_400_000, 40, 3, ClaimWindow::Current));
    let granted: i64 = join_all(claims)
        .await
        .into_iter()
        .map(|c| c.unwrap().granted)
        .sum();
    assert_eq!(granted, 40, "25 claims of 3 on a limit of 40");
    let after = store
        .claim_permits("acct:light:rate", 86_400_000, 40, 3, ClaimWindow::Current)
        .await
        .unwrap();
    assert_eq!(after.granted, 0);
    assert!(after.window_end_ms > after.now_ms);
    // Another bucket has its own count.
    let other = store
        .claim_permits("acct:medium:rate", 86_400_000, 40, 3, ClaimWindow::Current)
        .await
        .unwrap();
    assert_eq!(other.granted, 3);
}

#[tokio::test]
async fn a_hold_refuses_claims_until_it_ends_and_never_shrinks() {
    let (store, _db) = open().await;
    let first = store
        .claim_permits("acct:heavy:rate", 1000, 10, 1, ClaimWindow::Current)
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
        .claim_permits("acct:heavy:rate", 1000, 10, 1, ClaimWindow::Current)
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
        .claim_permits("acct:light:rate", 1000, 10, 1, ClaimWindow::Current)
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
        .claim_permits("acct:x:rate", 60_000, 5, 5, ClaimWindow::Current)
        .await
        .unwrap();
    let after = ClaimWindow::Starting(now.window_end_ms);
    let next = store
        .claim_permits("acct:x:rate", 60_000, 5, 5, after)
        .await
        .unwrap();
    assert_eq!(next.granted, 5, "the next window has its own permits");
    assert_eq!(
        next.window_end_ms,
        now.window_end_ms + 60_000,
        "the window named"
    );
    let again = store.claim_permits("acct:x:rate", 60_000, 5, 1, after);
    assert_eq!(again.await.unwrap().granted, 0);
}

#[tokio::test]
async fn a_named_window_that_ended_or_lies_two_ahead_grants_nothing() {
    let (store, _db) = open().await;
    // Far enough from a boundary that "two ahead" stays two ahead meanwhile.
    let now = loop {
        let now = store
            .claim_permits("acct:y:rate", 1000, 50, 1, ClaimWindow::Current)
            .await
            .unwrap();
        if now.window_end_ms - now.now_ms >= 300 {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    };
    let current_start = now.window_end_ms - 1000;
    for (start, what) in [
        (current_start - 1000, "the window before"),
        (current_start + 2000, "two windows ahead"),
    ] {
        let claim = store
            .claim_permits("acct:y:rate", 1000, 50, 5, ClaimWindow::Starting(start))
            .await
            .unwrap();
        assert_eq!(claim.granted, 0, "{what}");
        assert_eq!(
            claim.window_end_ms,
            start + 1000,
            "{what}: the window named"
        );
    }
    // Nothing was counted for either: a later claim there is whole.
    let later = ClaimWindow::Starting(current_start + 2000);
    tokio::time::sleep(std::time::Duration::from_millis(
        (now.window_end_ms + 10 - now.now_ms).max(0) as u64,
    ))
    .await;
    let claim = store.claim_permits("acct:y:rate", 1000, 50, 5, later);
    assert_eq!(claim.await.unwrap().granted, 5);
}

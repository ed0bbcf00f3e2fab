//! A replica's budgets drawing on the shared ledger (the proxy's path on
//! PostgreSQL; here on whichever backend the suite runs) while its clock
//! moves under it. A call in a window's last 50 ms also takes a permit of
//! the next window; that must be the next window by the ledger's count,
//! claimed once, however the replica's clock was stepped between claims;
//! and a window's end, once known, does not move with the clock.
//! The ledger itself is the reference: what it has left of each window
//! says what the budgets drew. The tests place calls by the wall clock,
//! which is the local database's clock too.

use std::time::Duration;

use tokenbroker::ratelimit::{BucketSpec, Budgets, Refusal};
use tokenbroker::store::{self, ClaimWindow, DynStore};

use crate::helpers::{execute_sql, fresh_database, TestDb};

const WINDOW: i64 = 1000;
/// A tenth of it is claimed at a time: 10 permits.
const LIMIT: i64 = 100;

async fn open() -> (DynStore, TestDb) {
    let (url, db) = fresh_database().await;
    (store::connect(&url).await.expect("open test database"), db)
}

fn wall_ms() -> i64 {
    tokenbroker::ratelimit::budget::now_ms()
}

fn spec(key: &str) -> BucketSpec {
    BucketSpec {
        key: key.into(),
        window_ms: WINDOW,
        limit: LIMIT,
    }
}

/// Sleeps until the wall clock is `phase_ms` into a second, and says whether
/// it got there on time (a loaded machine may oversleep).
async fn at_phase(phase_ms: i64, slack_ms: i64) -> bool {
    loop {
        let phase = wall_ms().rem_euclid(WINDOW);
        if phase >= phase_ms {
            return phase < phase_ms + slack_ms;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits for the next second to begin.
async fn next_second() {
    let wait = WINDOW - wall_ms().rem_euclid(WINDOW);
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
}

/// What the ledger has left of the window beginning at `start`.
async fn left(store: &DynStore, key: &str, start: i64) -> i64 {
    let which = ClaimWindow::Starting(start);
    let claim = store.claim_permits(key, WINDOW, LIMIT, LIMIT, which);
    claim.await.unwrap().granted
}

/// Takes one permit in a window's first half, steps the clock by `step_ms`,
/// then takes one where this replica's clock reads `guard_phase_ms` (its
/// view of the current window's guard), `seconds_later` whole seconds on.
/// Returns the second call's answer and the start of the window of the first,
/// or `None` when the machine was too slow to hit the phases or to claim.
async fn step_between_claims(
    budgets: &Budgets,
    key: &str,
    step_ms: i64,
    wall_phase_ms: i64,
    seconds_later: i64,
) -> Option<(bool, i64)> {
    next_second().await;
    if !at_phase(100, 300).await {
        return None;
    }
    let first_start = wall_ms() / WINDOW * WINDOW;
    let sent = std::time::Instant::now();
    budgets.take(&[spec(key)]).await.expect("the first call");
    if sent.elapsed() > Duration::from_millis(20) {
        // The replica's estimate of the window's end is off by up to half
        // of this claim's round trip: too far to place a call in its guard.
        return None;
    }
    budgets.step_clock(step_ms);
    for _ in 0..seconds_later {
        next_second().await;
    }
    if !at_phase(wall_phase_ms, 8).await {
        return None;
    }
    let answer = budgets.take(&[spec(key)]).await;
    Some((answer.is_ok(), first_start))
}

async fn with_attempts(
    store: &DynStore,
    step_ms: i64,
    wall_phase_ms: i64,
    seconds_later: i64,
) -> (String, bool, i64) {
    for attempt in 0..5 {
        let key = format!("acct:step{step_ms}:{attempt}:rate");
        let budgets = Budgets::new(Some(store.clone()));
        if let Some((ok, start)) =
            step_between_claims(&budgets, &key, step_ms, wall_phase_ms, seconds_later).await
        {
            return (key, ok, start);
        }
    }
    panic!("the machine never hit the window phases in 5 attempts");
}

#[tokio::test]
async fn a_clock_stepped_forward_between_claims_draws_the_next_window_once() {
    let (store, _db) = open().await;
    // +3 ms: the replica's estimate of the window's end moves by 3 ms
    // between its claim of this window and its claim of the next. It
    // reads 965 ms into the second: inside its guard.
    let (key, ok, start) = with_attempts(&store, 3, 962, 0).await;
    assert!(
        ok,
        "a call in the guard with the next window unspent passes"
    );
    assert_eq!(
        left(&store, &key, start + WINDOW).await,
        LIMIT - LIMIT / 10,
        "the next window gave one claim, not every permit it had"
    );
}

#[tokio::test]
async fn a_replica_behind_the_ledger_draws_the_window_it_names_not_the_one_after() {
    let (store, _db) = open().await;
    // -60 ms: 20 ms into the next second the replica still reads 960 ms of
    // the one before, its guard; on the ledger that next window has begun.
    let (key, ok, start) = with_attempts(&store, -60, 20, 1).await;
    assert!(ok, "the window it names is open on the ledger");
    assert_eq!(left(&store, &key, start + WINDOW).await, LIMIT - LIMIT / 10);
    assert_eq!(
        left(&store, &key, start + 2 * WINDOW).await,
        LIMIT,
        "the window after that was not touched"
    );
}

#[tokio::test]
async fn a_replica_a_window_behind_starts_over_from_the_ledgers_current_window() {
    let (store, _db) = open().await;
    // -1500 ms: when the replica reads 960 ms of its first window, the
    // ledger is 460 ms into the window after the next; the next has ended,
    // and the call draws on the ledger's current window instead.
    let (key, ok, start) = with_attempts(&store, -1500, 460, 2).await;
    assert!(ok);
    let current = start + 2 * WINDOW;
    assert_eq!(left(&store, &key, current).await, LIMIT - LIMIT / 10);
}

#[tokio::test]
async fn a_clock_stepped_back_does_not_stretch_a_window_whose_permits_are_held() {
    let (store, _db) = open().await;
    // -300 ms after claiming the first window's permits: 100 ms into the
    // next second the stepped clock still reads 800 ms of the first. The
    // call goes out in the second window, so that window must pay for it;
    // spending the first window's leftovers there is a call Zoom counts
    // in a window the ledger never charged.
    let (key, ok, start) = with_attempts(&store, -300, 100, 1).await;
    assert!(ok);
    assert_eq!(
        left(&store, &key, start + WINDOW).await,
        LIMIT - LIMIT / 10,
        "the window the call went out in was charged"
    );
}

#[tokio::test]
async fn a_ledger_that_refuses_the_claim_itself_is_a_failure_not_an_outage() {
    let (url, _db) = fresh_database().await;
    let store = store::connect(&url).await.expect("open test database");
    execute_sql(&url, &["DROP TABLE zoom_rate_windows".to_string()]).await;
    let budgets = Budgets::new(Some(store));
    // A 503 would tell the caller to retry what can never succeed.
    match budgets.take(&[spec("acct:gone:rate")]).await {
        Err(Refusal::Failed(detail)) => assert!(detail.contains("zoom_rate_windows"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

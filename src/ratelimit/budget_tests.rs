//! The in-process budgets (SQLite's, and every replica's own view of its
//! claims); tests/api/budget_windows.rs draws on a real ledger.

use super::*;

fn spec(limit: i64, window_ms: i64) -> BucketSpec {
    BucketSpec {
        key: "acct:light:rate".into(),
        window_ms,
        limit,
    }
}

#[tokio::test]
async fn in_process_windows_admit_the_limit_then_refuse_until_the_next() {
    let budgets = Budgets::new(None);
    let s = spec(5, 60_000);
    let mut admitted = 0;
    for _ in 0..8 {
        match budgets.take(std::slice::from_ref(&s)).await {
            Ok(()) => admitted += 1,
            Err(Refusal::OverBudget {
                retry_after, held, ..
            }) => {
                assert!(!held);
                assert!(retry_after <= Duration::from_secs(60));
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    // A minute window could be entered in its guard; then all 5 come
    // from the next one, still 5.
    assert_eq!(admitted, 5);
}

#[tokio::test]
async fn calls_across_window_boundaries_and_their_guards_all_pass_under_a_high_limit() {
    // 100 ms windows: their last 25 ms are guard, where a call also
    // draws on the next window. Over 0.6 s every call must still pass.
    let budgets = Budgets::new(None);
    let s = spec(1_000_000, 100);
    let until = std::time::Instant::now() + Duration::from_millis(600);
    let mut calls = 0;
    while std::time::Instant::now() < until {
        budgets.take(std::slice::from_ref(&s)).await.unwrap();
        calls += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(calls > 100, "{calls}");
}

#[tokio::test]
async fn a_call_in_the_guard_counts_in_both_windows() {
    // Limit 2 per 100 ms window: calls in one window's guard use up the
    // next window's permits too, so the next window admits fewer.
    let budgets = Budgets::new(None);
    let s = spec(2, 100);
    // Wait for the start of a guard (the last 25 ms of a window).
    while now_ms() % 100 < 76 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    budgets.take(std::slice::from_ref(&s)).await.unwrap();
    budgets.take(std::slice::from_ref(&s)).await.unwrap();
    // Both windows are spent now: nothing until the one after.
    assert!(budgets.take(std::slice::from_ref(&s)).await.is_err());
}

#[tokio::test]
async fn a_hold_refuses_at_once() {
    let budgets = Budgets::new(None);
    let s = spec(100, 1000);
    budgets.hold_here(&s.key, now_ms() + 5_000);
    match budgets.take(&[s]).await {
        Err(Refusal::OverBudget {
            held: true,
            retry_after,
            ..
        }) => {
            assert!(retry_after > Duration::from_secs(4));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_clock_stepped_back_never_fills_a_spent_window_again() {
    // 5 per second, all spent early in a second; then the clock is stepped
    // back 300 ms. Early in the next second the stepped clock still names
    // the spent window, and reaches the next name only 300 ms later: the
    // true second must still see 5 calls, not 5 of a refilled window and
    // 5 of the next.
    let budgets = Budgets::new(None);
    let s = spec(5, 1000);
    let second = loop {
        let now = now_ms();
        if (100..200).contains(&now.rem_euclid(1000)) {
            break now / 1000 * 1000;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    for _ in 0..5 {
        budgets.take(std::slice::from_ref(&s)).await.unwrap();
    }
    assert!(budgets.take(std::slice::from_ref(&s)).await.is_err());
    budgets.step_clock(-300);
    while now_ms() < second + 1000 + 20 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut admitted = 0;
    while now_ms() < second + 1000 + 600 {
        if budgets.take(std::slice::from_ref(&s)).await.is_ok() {
            admitted += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(admitted, 5, "one window's permits in one true second");
}

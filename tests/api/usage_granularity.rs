//! Issue 20: a connection's use is written at most once per
//! `TOKENBROKER_USAGE_GRANULARITY_SECS`, however many calls and flushes,
//! and the sweep still refreshes ahead whatever was used within its window.

use std::ops::RangeInclusive;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokenbroker::tokens::flush_usage;

use crate::helpers::{spawn_app_with, TestApp};

async fn last_used(app: &TestApp, id: &str) -> i64 {
    let usage = app.app.store.connection_use(id).await.unwrap().unwrap();
    usage.last_used_at.expect("authorized counts as used")
}

/// One token call at `+secs` of the app's clock, then a flush, as the
/// background flusher would do every `TOKENBROKER_USAGE_FLUSH_MS`. Returns
/// the clock's readings around the call: the clock is the wall's plus an
/// offset, so a slow run sees a second or two pass.
async fn call_and_flush(app: &TestApp, secs: i64) -> RangeInclusive<i64> {
    app.app.clock.advance(secs);
    let from = app.app.clock.now();
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    let to = app.app.clock.now();
    flush_usage(&app.app).await.unwrap();
    from..=to
}

/// The use recorded, checked to be one made within `when`.
async fn used_within(app: &TestApp, id: &str, when: RangeInclusive<i64>) -> i64 {
    let used = last_used(app, id).await;
    assert!(
        when.contains(&used),
        "use recorded at {used}, not in {when:?}"
    );
    used
}

#[tokio::test]
async fn a_connection_in_steady_use_is_written_once_per_granularity_not_once_per_flush() {
    // Cache off: every call reads the row (the database path).
    let app = spawn_app_with(&[
        ("TOKENBROKER_TOKEN_CACHE_MS", "0"),
        ("TOKENBROKER_USAGE_GRANULARITY_SECS", "300"),
    ])
    .await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let authorized = last_used(&app, &ann).await;
    let usage = &app.app.refresher.usage;
    let (rows, statements) = (usage.rows_written(), usage.statements());
    // Five calls and flushes within 250 s of the authorization: its record
    // stands for all of them. Written per flush, it would move five times.
    for _ in 0..5 {
        call_and_flush(&app, 50).await;
    }
    assert_eq!(last_used(&app, &ann).await, authorized);
    assert_eq!(usage.rows_written(), rows);
    assert_eq!(usage.statements(), statements, "a statement for nothing");
    // 310 s after it: one write, then again nothing for 250 s.
    let when = call_and_flush(&app, 60).await;
    let used = used_within(&app, &ann, when).await;
    assert_eq!(usage.rows_written(), rows + 1);
    for _ in 0..5 {
        call_and_flush(&app, 50).await;
    }
    assert_eq!(last_used(&app, &ann).await, used);
    assert_eq!(usage.rows_written(), rows + 1);
}

#[tokio::test]
async fn the_store_refuses_a_use_within_a_granularity_of_the_stored_one() {
    // A long cache: hits carry the use stored when the token was read, so
    // they are noted again, and only the store's condition stops the write
    // (as it does for another replica's flush of the same connection).
    let app = spawn_app_with(&[
        ("TOKENBROKER_TOKEN_CACHE_MS", "600000"),
        ("TOKENBROKER_USAGE_GRANULARITY_SECS", "300"),
    ])
    .await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let usage = &app.app.refresher.usage;
    call_and_flush(&app, 0).await;
    let rows = usage.rows_written();
    let when = call_and_flush(&app, 301).await;
    let used = used_within(&app, &ann, when).await;
    assert_eq!(usage.rows_written(), rows + 1);
    let statements = usage.statements();
    for _ in 0..3 {
        call_and_flush(&app, 90).await;
    }
    assert!(usage.statements() > statements, "the hits were not flushed");
    assert_eq!(last_used(&app, &ann).await, used);
    assert_eq!(
        usage.rows_written(),
        rows + 1,
        "written within a granularity"
    );
    // The store's own answer, on a use exactly one granularity later.
    let at = used + 300;
    let changed = app.app.store.record_use(&[(ann.clone(), at)], 300).await;
    assert_eq!(changed.unwrap(), 1);
    let changed = app
        .app
        .store
        .record_use(&[(ann.clone(), at + 299)], 300)
        .await;
    assert_eq!(changed.unwrap(), 0);
    assert_eq!(last_used(&app, &ann).await, at);
}

#[tokio::test]
async fn a_use_the_record_lags_behind_still_counts_as_used_within_the_window() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_BACKGROUND_REFRESH", "1"),
        ("TOKENBROKER_REFRESH_SWEEP_SECS", "1"),
        ("TOKENBROKER_USAGE_FLUSH_MS", "100"),
        ("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "3200"),
        ("TOKENBROKER_USAGE_GRANULARITY_SECS", "300"),
    ])
    .await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let authorized = last_used(&app, &ann).await;
    // Used at +200 s: within a granularity of the authorization, so the
    // record stays at +0.
    call_and_flush(&app, 200).await;
    assert_eq!(last_used(&app, &ann).await, authorized);
    // At +3400 s the token (3600 s) is inside the sweep's window and the
    // real use, 3200 s ago, is within the window; the record, 3400 s ago,
    // is not, unless the sweep allows for the granularity.
    app.app.clock.advance(3_200);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = app.app.store.connection_by_id(&ann).await.unwrap().unwrap();
        if row.last_refreshed_at.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a connection used within the window was not refreshed ahead ({} passes)",
            app.app.refresher.sweep_passes.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.counters().refresh_token, 1);
}

//! Issue 13: the background refresher refreshes ahead only what is used,
//! keeps idle grants alive, respects the deployment-wide rate cap, and use
//! is recorded in batches.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, TestApp};

/// Awaits `check` every 50 ms, failing with `what` after `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn refreshed(app: &TestApp, id: &str) -> bool {
    let row = app.app.store.connection_by_id(id).await.unwrap().unwrap();
    row.last_refreshed_at.is_some()
}

async fn last_used(app: &TestApp, id: &str) -> i64 {
    let usage = app.app.store.connection_use(id).await.unwrap().unwrap();
    usage
        .last_used_at
        .expect("an authorized connection counts as used")
}

/// Awaits `passes` more complete sweep passes.
async fn passes(app: &TestApp, passes: u64) {
    let start = app.app.refresher.sweep_passes.load(Ordering::Relaxed);
    until(Duration::from_secs(20), "sweep passes", || async {
        app.app.refresher.sweep_passes.load(Ordering::Relaxed) >= start + passes
    })
    .await;
}

const SWEEPING: [(&str, &str); 3] = [
    ("TOKENBROKER_BACKGROUND_REFRESH", "1"),
    ("TOKENBROKER_REFRESH_SWEEP_SECS", "1"),
    ("TOKENBROKER_USAGE_FLUSH_MS", "100"),
];

#[tokio::test]
async fn only_a_recently_used_connection_is_refreshed_ahead_the_other_on_demand() {
    let mut vars = SWEEPING.to_vec();
    vars.push(("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "3000"));
    let app = spawn_app_with(&vars).await;
    let used = app.connect("ann@acme.example", "user", "Member").await;
    let idle = app.connect("bob@acme.example", "user", "Member").await;
    let authorized = last_used(&app, &idle).await;
    // Tokens live 3600 s. At +1000 s Ann's is handed out (fresh: no refresh).
    app.app.clock.advance(1_000);
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    until(Duration::from_secs(10), "Ann's use is recorded", || async {
        last_used(&app, &used).await >= authorized + 1_000
    })
    .await;
    assert_eq!(last_used(&app, &idle).await, authorized);
    // At +3500 s both are inside the sweep's window; only Ann was used
    // within the last 3000 s.
    app.app.clock.advance(2_500);
    until(
        Duration::from_secs(15),
        "Ann's connection is refreshed ahead",
        || refreshed(&app, &used),
    )
    .await;
    passes(&app, 2).await;
    assert!(
        !refreshed(&app, &idle).await,
        "an unused connection was refreshed ahead"
    );
    assert_eq!(app.counters().refresh_token, 1);
    // Bob's next caller refreshes it on demand.
    assert_eq!(app.token("bob@acme.example").await.status(), StatusCode::OK);
    assert!(refreshed(&app, &idle).await);
    assert_eq!(app.counters().refresh_token, 2);
    assert_eq!(app.counters().refresh_reuse, 0);
}

#[tokio::test]
async fn an_idle_connection_with_an_old_refresh_token_is_kept_alive() {
    let mut vars = SWEEPING.to_vec();
    vars.extend([
        ("TOKENBROKER_REFRESH_USED_WITHIN_SECS", "60"),
        ("TOKENBROKER_KEEPALIVE_AFTER_SECS", "2000"),
    ]);
    let app = spawn_app_with(&vars).await;
    let old = app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(1_000);
    let young = app.connect("bob@acme.example", "user", "Member").await;
    let issued = app.app.store.connection_use(&old).await.unwrap().unwrap();
    // At +2100 s: no token is near expiry, neither was used in the last
    // minute, and only Ann's refresh token is older than 2000 s.
    app.app.clock.advance(1_100);
    until(Duration::from_secs(15), "the keep-alive refresh", || {
        refreshed(&app, &old)
    })
    .await;
    let now = app.app.store.connection_use(&old).await.unwrap().unwrap();
    assert!(now.refresh_issued_at.unwrap() >= issued.refresh_issued_at.unwrap() + 2_100);
    passes(&app, 2).await;
    assert!(
        !refreshed(&app, &young).await,
        "a young refresh token was refreshed"
    );
    assert_eq!(app.counters().refresh_token, 1, "a keep-alive happens once");
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    assert_eq!(app.counters().refresh_token, 1);
}

#[tokio::test]
async fn the_rate_cap_holds_across_two_replicas_and_each_connection_is_refreshed_once() {
    let mut vars = SWEEPING.to_vec();
    vars.extend([
        ("TOKENBROKER_REFRESH_RATE_PER_SEC", "2"),
        ("TOKENBROKER_REFRESH_CONCURRENCY", "8"),
    ]);
    let app = spawn_app_with(&vars).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            app.connect(&format!("u{i}@acme.example"), "user", "Member")
                .await,
        );
    }
    // The second replica runs its own sweep on the same database, its clock
    // moved like the first one's.
    let _replica = app
        .second_server(&[("TOKENBROKER_CLOCK_OFFSET_SECS", "3500")])
        .await;
    app.app.clock.advance(3_500);
    // Poll Zoom's count and note when each call arrived.
    let mut seen: Vec<Instant> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 8 {
        assert!(
            Instant::now() < deadline,
            "only {} refreshes arrived",
            seen.len()
        );
        let count = app.counters().refresh_token as usize;
        while seen.len() < count {
            seen.push(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Eight calls at two per second of the database's clock need four
    // distinct seconds: more than two seconds from first to last. Without
    // the cap, the sweep spreads them over 0.8 s.
    let span = seen[7] - seen[0];
    assert!(
        span >= Duration::from_millis(2_000),
        "8 calls within {span:?}"
    );
    for (i, t) in seen.iter().enumerate() {
        let within_a_second = seen[i..]
            .iter()
            .filter(|u| **u - *t < Duration::from_secs(1));
        // A sliding second can straddle two slots: at most 2 + 2 (+1 for polling).
        assert!(
            within_a_second.count() <= 5,
            "burst above the cap: {seen:?}"
        );
    }
    passes(&app, 2).await;
    for id in &ids {
        assert!(refreshed(&app, id).await);
    }
    assert_eq!(
        app.counters().refresh_token,
        8,
        "a connection was refreshed twice"
    );
    assert_eq!(app.counters().refresh_reuse, 0);
}

#[tokio::test]
async fn token_calls_are_recorded_in_a_few_batched_writes_and_cache_hits_count() {
    let app = spawn_app_with(&[
        ("TOKENBROKER_USAGE_FLUSH_MS", "300"),
        ("TOKENBROKER_TOKEN_CACHE_MS", "60000"),
        ("TOKENBROKER_USAGE_GRANULARITY_SECS", "5"),
    ])
    .await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let authorized = last_used(&app, &ann).await;
    let usage = &app.app.refresher.usage;
    let before = usage.statements();
    // The first call fills the cache, the next 199 are hits; the clock
    // moves a little so that the latest use is told apart.
    assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    app.app.clock.advance(10);
    let calls: Vec<_> = (0..199).map(|_| app.token("ann@acme.example")).collect();
    for response in futures::future::join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    until(Duration::from_secs(10), "the batch is flushed", || async {
        last_used(&app, &ann).await >= authorized + 10 && usage.pending() == 0
    })
    .await;
    let statements = usage.statements() - before;
    assert!(
        (1..=10).contains(&statements),
        "200 token calls took {statements} writes"
    );
}

#[tokio::test]
async fn uses_not_yet_flushed_are_written_when_the_server_stops() {
    let app = spawn_app_with(&[]).await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    let authorized = last_used(&app, &ann).await;
    let replica = app
        .second_server(&[
            ("TOKENBROKER_USAGE_FLUSH_MS", "3600000"),
            ("TOKENBROKER_USAGE_GRANULARITY_SECS", "5"),
            ("TOKENBROKER_CLOCK_OFFSET_SECS", "30"),
        ])
        .await;
    let url = format!(
        "{}/api/v1/orgs/acme/users/ann@acme.example/token",
        replica.base
    );
    for _ in 0..5 {
        let answer = app
            .api
            .get(&url)
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
    // No write per call: nothing is recorded until the hourly flush or a stop.
    assert_eq!(last_used(&app, &ann).await, authorized);
    drop(replica);
    until(
        Duration::from_secs(10),
        "the stop flushes the uses",
        || async { last_used(&app, &ann).await >= authorized + 30 },
    )
    .await;
}

//! Issue 20: callers who miss the token cache together share one
//! resolution (one database read, one refresh), and an invalidation is
//! never answered from a resolution that began before it.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use tokenbroker::invalidation::Invalidation;

use crate::helpers::spawn_app;

#[tokio::test]
async fn callers_missing_the_cache_together_share_one_resolution() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600); // expired: a miss, and a refresh behind it
                                  // Open the client's 200 connections first, so that all 200 calls reach
                                  // the server within Zoom's slow second; a caller arriving after the
                                  // refresh committed would rightly start a resolution of its own.
    let healthz = format!("{}/healthz", app.base);
    for opened in join_all((0..200).map(|_| app.api.get(&healthz).send())).await {
        assert_eq!(opened.unwrap().status(), StatusCode::OK);
    }
    app.fault("token", None, 1_000, 1); // a slow Zoom, so callers pile up
    let before = app.app.metrics.token_resolutions();
    let calls = (0..200).map(|_| async { app.token("ann@acme.example").await });
    let mut tokens = std::collections::HashSet::new();
    for response in join_all(calls).await {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        tokens.insert(body["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(
        app.app.metrics.token_resolutions() - before,
        1,
        "200 concurrent misses ran one resolution"
    );
    assert_eq!(app.counters().refresh_token, 1);
    assert_eq!(tokens.len(), 1, "every caller got the same token");
    // Once the refreshed token is cached, callers are hits. The refresh's
    // own invalidation (and on PostgreSQL its echo through NOTIFY, which
    // arrives when it will) may drop an answer or two first.
    for _ in 0..5 {
        assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settled = app.app.metrics.token_resolutions();
    for _ in 0..3 {
        assert_eq!(app.token("ann@acme.example").await.status(), StatusCode::OK);
    }
    assert_eq!(
        app.app.metrics.token_resolutions(),
        settled,
        "hits, not resolutions"
    );
}

#[tokio::test]
async fn a_miss_after_an_invalidation_does_not_join_the_resolution_before_it() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.app.clock.advance(3_600);
    app.fault("token", None, 600, 1);
    let before = app.app.metrics.token_resolutions();
    let first = tokio::spawn({
        let (url, key) = (
            format!("{}/api/v1/orgs/acme/users/ann@acme.example/token", app.base),
            app.api_key.clone(),
        );
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            response.status()
        }
    });
    // Await the first resolution being under way (it waits on slow Zoom).
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.app.metrics.token_resolutions() == before {
        assert!(
            Instant::now() < deadline,
            "the first resolution never began"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let org = app.app.store.org_by_slug("acme").await.unwrap().unwrap();
    app.app.invalidate(Invalidation::OrgTokens(org.id));
    let second = app.token("ann@acme.example").await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    assert_eq!(
        app.app.metrics.token_resolutions() - before,
        2,
        "the miss after the invalidation ran its own resolution"
    );
    // Its resolution joined the refresh under way instead of making another.
    assert_eq!(app.counters().refresh_token, 1);
}

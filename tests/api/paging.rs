//! Issue 16: cursor pages of an org's connections and audit log, on
//! whichever backend the suite runs on.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use tokenbroker::domain::AppType;
use tokenbroker::store::{Connection, DynStore};

use crate::helpers::{error_code, spawn_app, TestApp};

/// Seconds since the epoch of every seeded row unless a test says otherwise:
/// all in one second, so that only `seq` can tell insertion order apart.
const T0: i64 = 1_700_000_000;

pub fn connection(org_id: &str, email: &str, app_type: AppType, at: i64) -> Connection {
    let subject = format!("zu_{}", uuid::Uuid::new_v4().simple());
    Connection {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org_id.into(),
        app_type,
        zoom_user_id: subject.clone(),
        zoom_account_id: "za_1".into(),
        subject,
        email: email.into(),
        role_name: None,
        status: tokenbroker::domain::ConnectionStatus::Active,
        status_reason: None,
        scopes: "user:read".into(),
        access_token: None,
        refresh_token: None,
        access_expires_at: None,
        version: 0,
        lease_owner: None,
        lease_until: None,
        last_refreshed_at: None,
        created_at: at,
        updated_at: at,
        authorized_at: Some(at),
        last_used_at: Some(at),
        oauth_app_id: None,
    }
}

/// Inserts `n` user connections `user{start+i}@acme.example`; returns their ids.
pub async fn seed(store: &DynStore, org_id: &str, start: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in start..start + n {
        let c = connection(org_id, &format!("user{i}@acme.example"), AppType::User, T0);
        assert!(store.upsert_connection(&c).await.unwrap());
        ids.push(c.id);
    }
    ids
}

async fn page(app: &TestApp, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/orgs/acme/connections?{query}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

/// Walks every page of `filters`; returns the emails in walk order.
async fn walk(app: &TestApp, filters: &str) -> Vec<String> {
    let mut emails = Vec::new();
    let mut after = String::new();
    loop {
        let body = page(app, &format!("{filters}&limit=2{after}")).await;
        for c in body["connections"].as_array().unwrap() {
            emails.push(c["email"].as_str().unwrap().to_string());
        }
        match body["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => return emails,
        }
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_walk_sees_every_connection_once_while_others_are_added() {
    let app = spawn_app().await;
    let store = app.app.store.clone();
    let mut expected = seed(&store, &app.org.id, 0, 120).await;
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        // The first pages are read while a batch is being inserted; the
        // batch's ids are random and its rows share the page rows' second.
        let query = format!("limit=25{after}");
        let request = page(&app, &query);
        let body = if pages < 4 {
            let store = store.clone();
            let org_id = app.org.id.clone();
            let start = 1000 + pages * 10;
            let (body, added) = tokio::join!(request, seed(&store, &org_id, start, 10));
            expected.extend(added);
            body
        } else {
            request.await
        };
        pages += 1;
        seen.extend(ids(&body));
        match body["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a connection was repeated");
    assert_eq!(seen.len(), 160, "a connection was lost");
    assert_eq!(unique, expected.iter().collect::<HashSet<_>>());
    // The seeded rows come first, in insertion order.
    assert_eq!(seen[..120], expected[..120]);
}

#[tokio::test]
async fn the_default_page_is_100_and_next_is_absent_on_the_last() {
    let app = spawn_app().await;
    seed(&app.app.store, &app.org.id, 0, 150).await;
    let first = page(&app, "").await;
    assert_eq!(ids(&first).len(), 100);
    let next = first["next"].as_str().unwrap();
    let second = page(&app, &format!("after={next}")).await;
    assert_eq!(ids(&second).len(), 50);
    assert!(second.get("next").is_none(), "{second}");
    let all = page(&app, "limit=1000").await;
    assert_eq!(ids(&all).len(), 150);
    assert!(all.get("next").is_none());
    // Exactly a page's worth leaves no empty page behind.
    let exact = page(&app, "limit=150").await;
    assert!(exact.get("next").is_none());
}

#[tokio::test]
async fn each_filter_selects_its_connections_across_pages() {
    let app = spawn_app().await;
    let store = &app.app.store;
    let org = &app.org.id;
    let mut rows = Vec::new();
    for (email, app_type, at) in [
        ("bob@acme.example", AppType::User, T0),
        ("ann@acme.example", AppType::User, T0 + 10),
        ("anna@acme.example", AppType::User, T0 + 20),
        ("annie@other.example", AppType::User, T0 + 30),
        ("admin@acme.example", AppType::Account, T0 + 40),
        ("ann.b@acme.example", AppType::User, T0 + 50),
    ] {
        let c = connection(org, email, app_type, at);
        assert!(store.upsert_connection(&c).await.unwrap());
        rows.push(c);
    }
    // Marking needs_reauth updates the row: it moves to the end of a sync walk.
    assert!(store
        .mark_needs_reauth(&rows[0].id, 0, "refresh refused", T0 + 60)
        .await
        .unwrap());
    assert!(store
        .mark_needs_reauth(&rows[2].id, 0, "refresh refused", T0 + 70)
        .await
        .unwrap());

    let all = walk(&app, "").await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[0], "bob@acme.example", "insertion order");
    assert_eq!(
        walk(&app, "status=needs_reauth").await,
        ["bob@acme.example", "anna@acme.example"]
    );
    assert_eq!(walk(&app, "app_type=account").await, ["admin@acme.example"]);
    assert_eq!(
        walk(&app, "email=%20ANN@Acme.example").await,
        ["ann@acme.example"]
    );
    assert_eq!(
        walk(&app, "email_prefix=Ann").await,
        [
            "ann.b@acme.example",
            "ann@acme.example",
            "anna@acme.example",
            "annie@other.example"
        ],
        "by email, in byte order"
    );
    assert_eq!(walk(&app, "email_prefix=ann@").await, ["ann@acme.example"]);
    assert_eq!(
        walk(&app, "email_prefix=ann&status=active").await,
        [
            "ann.b@acme.example",
            "ann@acme.example",
            "annie@other.example"
        ]
    );
    assert_eq!(
        walk(&app, "updated_since=2023-11-14T22:13:50Z").await,
        [
            "annie@other.example",
            "admin@acme.example",
            "ann.b@acme.example",
            "bob@acme.example",
            "anna@acme.example"
        ],
        "changed at or after the instant, oldest change first"
    );
    assert!(walk(&app, "email_prefix=zed").await.is_empty());
    // Both email filters hold at once; a contradiction matches nothing.
    let both = page(&app, "email=ann@acme.example&email_prefix=ann").await;
    assert_eq!(both["connections"].as_array().unwrap().len(), 1, "{both}");
    let neither = page(&app, "email=ann@acme.example&email_prefix=bob").await;
    assert!(
        neither["connections"].as_array().unwrap().is_empty(),
        "{neither}"
    );
    // An empty cursor is the first page.
    assert_eq!(page(&app, "after=").await, page(&app, "").await);
}

#[tokio::test]
async fn bad_limits_filters_and_cursors_are_clear_400s() {
    let app = spawn_app().await;
    seed(&app.app.store, &app.org.id, 0, 3).await;
    let cases = [
        ("limit=0", "invalid_limit"),
        ("limit=-5", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("after=%21%21not-base64", "invalid_cursor"),
        // Base64 of something that is not a cursor.
        ("after=bm90IGpzb24", "invalid_cursor"),
        ("status=sleeping", "invalid_status"),
        ("app_type=admin", "invalid_app_type"),
        ("email=not-an-email", "invalid_email"),
        ("email_prefix=%20", "invalid_email_prefix"),
        ("updated_since=yesterday", "invalid_updated_since"),
    ];
    for (query, code) in cases {
        let response = app
            .get(&format!("/api/v1/orgs/acme/connections?{query}"))
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            code,
            "{query}"
        );
    }
    // A cursor edited by hand keeps its binding but breaks its key.
    let first = page(&app, "limit=1").await;
    let next = first["next"].as_str().unwrap();
    let raw = base64_decode(next);
    let mut cursor: Value = serde_json::from_slice(&raw).unwrap();
    cursor["k"] = serde_json::json!(["x"]);
    let forged = base64_encode(cursor.to_string().as_bytes());
    let response = app
        .get(&format!(
            "/api/v1/orgs/acme/connections?limit=1&after={forged}"
        ))
        .await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
}

/// Emails inserted in this order, so that `seq` order and email order differ.
const SCRAMBLED: [&str; 5] = ["zed", "amy", "kim", "bob", "lou"];

#[tokio::test]
async fn a_cursor_works_for_its_own_org_under_any_filters() {
    let app = spawn_app().await;
    let (globex, _) = app.new_org_key("globex").await;
    for name in SCRAMBLED {
        let email = format!("{name}@acme.example");
        let c = connection(&app.org.id, &email, AppType::User, T0);
        assert!(app.app.store.upsert_connection(&c).await.unwrap());
    }
    seed(&app.app.store, &globex.id, 100, 3).await;
    let all = app.all_orgs_key().await;

    // After `amy` (the second row by seq), whatever the walk's filters.
    let first = page(&app, "limit=2").await;
    let next = first["next"].as_str().unwrap();
    let emails = |body: &Value| -> Vec<String> {
        body["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["email"]
                    .as_str()
                    .unwrap()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let after = |filters: &str| format!("{filters}&after={next}");
    // Issue 23: a cursor from a walk with other filters answered 400.
    let cases: [(&str, &[&str]); 6] = [
        ("", &["kim", "bob", "lou"]),
        ("status=active", &["kim", "bob", "lou"]),
        ("status=revoked", &[]),
        ("updated_since=2023-11-14T22:13:20Z", &["kim", "bob", "lou"]),
        // By email, after `amy`: only addresses above it.
        ("email_prefix=b", &["bob"]),
        ("email_prefix=a", &[]),
    ];
    for (filters, want) in cases {
        assert_eq!(
            emails(&page(&app, &after(filters)).await),
            want,
            "{filters}"
        );
    }
    // Contradicting filters match nothing, with a cursor too.
    let none = page(&app, &after("email=kim@acme.example&email_prefix=b")).await;
    assert_eq!(none["connections"], serde_json::json!([]));

    let own = app
        .get_as(
            &all,
            &format!("/api/v1/orgs/acme/connections?limit=1&after={next}"),
        )
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app
        .get_as(
            &all,
            &format!("/api/v1/orgs/globex/connections?limit=1&after={next}"),
        )
        .await;
    assert_eq!(
        error_code(other, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
}

#[tokio::test]
async fn the_audit_log_takes_after_and_before_together() {
    let app = spawn_app().await;
    let (_globex, _) = app.new_org_key("globex").await;
    let all = app.all_orgs_key().await;
    for _ in 0..5 {
        app.app
            .audit(
                Some(&app.org.id),
                &tokenbroker::domain::Actor::Cli,
                tokenbroker::domain::AuditAction::ConnectionDisconnected,
                tokenbroker::domain::AuditOutcome::Success,
                "test",
            )
            .await;
    }
    let audit = |query: String| {
        let app = &app;
        async move {
            let r = app.get(&format!("/api/v1/orgs/acme/audit?{query}")).await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            r.json::<Value>().await.unwrap()
        }
    };
    let ids = |body: &Value| -> Vec<i64> {
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect()
    };
    let newest = ids(&audit("limit=200".into()).await);
    assert!(newest.len() >= 5);
    let two = audit("limit=2".into()).await;
    let next = two["next"].as_str().unwrap().to_string();
    assert_eq!(two["next_before"], two["events"][1]["id"]);
    let cursor_at = two["next_before"].as_i64().unwrap();
    // The same position both ways.
    assert_eq!(
        audit(format!("after={next}")).await["events"],
        audit(format!("before={cursor_at}")).await["events"]
    );
    // Issue 23: both together answered 400. Both hold: the older one wins.
    for before in [newest[0], cursor_at, newest[3], 1] {
        let want: Vec<i64> = newest
            .iter()
            .copied()
            .filter(|id| *id < before.min(cursor_at))
            .collect();
        let both = audit(format!("after={next}&before={before}")).await;
        assert_eq!(ids(&both), want, "before={before}");
    }
    let elsewhere = app
        .get_as(&all, &format!("/api/v1/orgs/globex/audit?after={next}"))
        .await;
    assert_eq!(
        error_code(elsewhere, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

//! The store's claim-once helper, called directly for each kind of one-time
//! record, on whichever backend the suite runs on.

use tokenbroker::store::{
    self, AdminLink, ConnectSession, Consumed, DynStore, PendingAuthorization,
};

use crate::helpers::{create_org, fresh_database, TestDb};

const NOW: i64 = 1_000_000;

async fn open() -> (DynStore, String, TestDb) {
    let (url, db) = fresh_database().await;
    let store = store::connect(&url).await.expect("open test database");
    let org = create_org(&store, "acme").await;
    (store, org.id, db)
}

fn session(org_id: &str, hash: &str, expires_at: i64) -> ConnectSession {
    ConnectSession {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org_id.into(),
        token_hash: hash.into(),
        email: "user@acme.example".into(),
        app_type: tokenbroker::domain::AppType::User,
        return_to: None,
        created_by: "test".into(),
        expires_at,
        consumed_at: None,
        created_at: 0,
        products: Some("meetings webinar".into()),
    }
}

fn pending(session: &ConnectSession, hash: &str, expires_at: i64) -> PendingAuthorization {
    PendingAuthorization {
        id: uuid::Uuid::new_v4().to_string(),
        session_id: session.id.clone(),
        org_id: session.org_id.clone(),
        state_hash: hash.into(),
        pkce_verifier: "sealed".into(),
        email: session.email.clone(),
        app_type: tokenbroker::domain::AppType::User,
        return_to: None,
        expires_at,
        used_at: None,
        created_at: 0,
        oauth_app_id: None,
    }
}

fn link(org_id: &str, hash: &str, expires_at: i64) -> AdminLink {
    AdminLink {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org_id.into(),
        token_hash: hash.into(),
        email: "admin@acme.example".into(),
        created_by: "test".into(),
        expires_at,
        used_at: None,
        created_at: 0,
    }
}

/// The outcome's name, and the id of the record it carries.
fn outcome<T>(consumed: Consumed<T>, id: impl Fn(&T) -> String) -> (&'static str, Option<String>) {
    match consumed {
        Consumed::Claimed(r) => ("claimed", Some(id(&r))),
        Consumed::AlreadyUsed(r) => ("already_used", Some(id(&r))),
        Consumed::Expired(r) => ("expired", Some(id(&r))),
        Consumed::Unknown => ("unknown", None),
    }
}

#[tokio::test]
async fn connect_sessions_are_claimed_once() {
    let (store, org_id, _db) = open().await;
    let live = session(&org_id, "live", NOW + 60);
    let old = session(&org_id, "old", NOW);
    store.insert_connect_session(&live).await.unwrap();
    store.insert_connect_session(&old).await.unwrap();
    let claim = |hash: &'static str| {
        let store = store.clone();
        async move {
            let consumed = store.consume_connect_session(hash, NOW).await.unwrap();
            outcome(consumed, |s| s.id.clone())
        }
    };

    assert_eq!(claim("nope").await, ("unknown", None));
    assert_eq!(claim("old").await, ("expired", Some(old.id.clone())));
    assert_eq!(claim("live").await, ("claimed", Some(live.id.clone())));
    assert_eq!(claim("live").await, ("already_used", Some(live.id.clone())));
    // Used and since expired: "used" is the truer answer.
    let stored = store
        .consume_connect_session("live", NOW + 120)
        .await
        .unwrap();
    let Consumed::AlreadyUsed(stored) = stored else {
        panic!("a used session stays used after it expires");
    };
    assert_eq!(
        stored.consumed_at,
        Some(NOW),
        "the first claim's time is kept"
    );
}

#[tokio::test]
async fn pending_authorizations_are_claimed_once() {
    let (store, org_id, _db) = open().await;
    let parent = session(&org_id, "parent", NOW + 60);
    store.insert_connect_session(&parent).await.unwrap();
    let live = pending(&parent, "live", NOW + 60);
    let old = pending(&parent, "old", NOW - 1);
    store.insert_pending_authorization(&live).await.unwrap();
    store.insert_pending_authorization(&old).await.unwrap();
    let claim = |hash: &'static str| {
        let store = store.clone();
        async move {
            let consumed = store.take_pending_authorization(hash, NOW).await.unwrap();
            outcome(consumed, |p| p.id.clone())
        }
    };

    assert_eq!(claim("nope").await, ("unknown", None));
    assert_eq!(claim("old").await, ("expired", Some(old.id.clone())));
    assert_eq!(claim("live").await, ("claimed", Some(live.id.clone())));
    assert_eq!(claim("live").await, ("already_used", Some(live.id.clone())));
}

#[tokio::test]
async fn admin_links_are_claimed_once_even_by_racing_callers() {
    let (store, org_id, _db) = open().await;
    let old = link(&org_id, "old", NOW);
    store.insert_admin_link(&old).await.unwrap();
    let outcome_of = |consumed| outcome(consumed, |l: &AdminLink| l.id.clone());
    let unknown = store.consume_admin_link("nope", NOW).await.unwrap();
    assert_eq!(outcome_of(unknown), ("unknown", None));
    let expired = store.consume_admin_link("old", NOW).await.unwrap();
    assert_eq!(outcome_of(expired), ("expired", Some(old.id.clone())));

    let raced = link(&org_id, "raced", NOW + 60);
    store.insert_admin_link(&raced).await.unwrap();
    let claims = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.consume_admin_link("raced", NOW).await.unwrap() })
    });
    let mut names = Vec::new();
    for claim in claims {
        names.push(outcome_of(claim.await.unwrap()).0);
    }
    names.sort_unstable();
    let mut expected = vec!["already_used"; 7];
    expected.push("claimed");
    assert_eq!(names, expected, "exactly one of eight racing claims wins");
}

/// The token API's lookup picks among a user's rows in Rust (issue 20: no
/// sort in SQL); the preference must be what the `ORDER BY` said.
#[tokio::test]
async fn a_user_is_served_by_their_newest_live_connection_else_their_newest() {
    use tokenbroker::domain::{AppType, ConnectionStatus};
    let (store, org, _db) = open().await;
    let email = "pat@acme.example";
    let mut ids = Vec::new();
    for at in [100, 200, 50] {
        let row = crate::paging::connection(&org, email, AppType::User, at);
        assert!(store.upsert_connection(&row).await.unwrap());
        ids.push(row.id);
    }
    let served = || async {
        store
            .user_connection_for_email(&org, email)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(served().await.id, ids[1], "the newest live row");
    // The oldest breaks, and is now the most recently updated: still row 1.
    assert!(store.mark_needs_reauth(&ids[2], 0, "x", 400).await.unwrap());
    assert_eq!(served().await.id, ids[1]);
    assert!(store.mark_needs_reauth(&ids[1], 0, "x", 500).await.unwrap());
    assert_eq!(served().await.id, ids[0], "the only live row");
    assert!(store.mark_needs_reauth(&ids[0], 0, "x", 450).await.unwrap());
    let none_live = served().await;
    assert_eq!(
        (none_live.id.as_str(), none_live.status),
        (ids[1].as_str(), ConnectionStatus::NeedsReauth)
    );
    assert!(store
        .user_connection_for_email(&org, "nobody@acme.example")
        .await
        .unwrap()
        .is_none());
}

/// A query the database refuses on its own is not "the database is down":
/// PostgreSQL's 22021 (NUL in text) once read as SQLite's BUSY, a 503 that
/// told the caller to retry what can never succeed.
#[tokio::test]
async fn a_refused_value_is_not_an_outage() {
    let (store, org_id, _db) = open().await;
    let (mut key, _) = tokenbroker::service::api_keys::new_api_key(Some(org_id), None, NOW);
    key.label = Some("a\u{0}b".into());
    match store.insert_api_key(&key).await {
        // SQLite stores NUL in text; the edge refuses it before this.
        Ok(()) => assert_eq!(store.backend(), "sqlite"),
        Err(err) => {
            assert_eq!(store.backend(), "postgres", "{err}");
            assert!(!err.is_unavailable(), "{err}");
        }
    }
}

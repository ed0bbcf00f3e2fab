//! Each change emits its event; the replay API; configuration.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;
use crate::helpers::{error_code, spawn_app_with};

#[tokio::test]
async fn every_change_emits_its_event_signed_per_standard_webhooks() {
    let receiver = Receiver::start().await;
    let app = app_sending_to(&receiver, &[]).await;
    let ann = app.connect("ann@acme.example", "user", "Member").await;
    receiver.wait_for("created", |g| g.len() == 1).await;
    app.connect("ann@acme.example", "user", "Member").await;
    receiver.wait_for("reauthorized", |g| g.len() == 2).await;

    let bob = app.connect("bob@acme.example", "user", "Member").await;
    receiver.wait_for("bob created", |g| g.len() == 3).await;
    deauthorize_in_sandbox(&app, "bob@acme.example").await;
    receiver.wait_for("revoked", |g| g.len() == 4).await;

    // A refresh refused with invalid_grant: the user must authorize again.
    app.app.clock.advance(3_600);
    app.sandbox.add_fault(tokenbroker::sandbox::Fault {
        endpoint: "token".into(),
        status: Some(400),
        delay_ms: 0,
        count: 1,
        error: Some("invalid_grant".into()),
        reason: Some("Invalid Token!".into()),
        drop_connection: false,
    });
    error_code(app.token("ann@acme.example").await, StatusCode::CONFLICT).await;
    receiver.wait_for("needs_reauth", |g| g.len() == 5).await;

    let deleted = app
        .delete(&format!("/api/v1/orgs/acme/connections/{ann}"))
        .await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let got = receiver.wait_for("all six", |g| g.len() == 6).await;

    assert_eq!(
        types(&got),
        [
            "connection.created",
            "connection.reauthorized",
            "connection.created",
            "connection.revoked",
            "connection.needs_reauth",
            "connection.deleted",
        ]
    );
    for g in &got {
        assert_signed(g);
    }
    let bodies: Vec<Value> = got.iter().map(Got::json).collect();
    let data = |i: usize| bodies[i]["data"].clone();
    assert_eq!(
        data(0),
        json!({"org": "acme", "connection_id": ann, "email": "ann@acme.example",
               "app_type": "user", "status": "active"})
    );
    assert_eq!(data(3)["connection_id"], bob);
    assert_eq!(data(3)["status"], "revoked");
    assert!(data(3)["reason"].is_string());
    assert_eq!(data(4)["status"], "needs_reauth");
    assert!(data(4)["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(data(5)["connection_id"], ann);
    for body in &bodies {
        let ts = body["timestamp"].as_str().unwrap();
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
            .expect("timestamp is RFC 3339");
    }

    // The replay API shows the same events, delivered, in the same order.
    let listed = wait_status(&app, "delivered", 6).await;
    let ids: Vec<&str> = listed.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let sent: Vec<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, sent);
    assert_eq!(listed[2]["type"], "connection.created");
    assert_eq!(listed[2]["data"], bodies[2]["data"]);
    assert_eq!(listed[2]["attempts"], 1);
}

#[tokio::test]
async fn a_change_that_fails_or_changes_nothing_writes_no_event() {
    let app = spawn_app_with(&[]).await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let missing = app
        .delete("/api/v1/orgs/acme/connections/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // A stale version marks nothing.
    let store = &app.app.store;
    assert!(!store.mark_needs_reauth(&id, 99, "stale", 1).await.unwrap());
    let page = events(&app, "").await;
    let list = page["events"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{page:#}");
    assert_eq!(list[0]["type"], "connection.created");
}

#[tokio::test]
async fn the_events_api_pages_and_is_scoped_to_the_keys_org() {
    let app = spawn_app_with(&[]).await;
    for i in 0..3 {
        app.connect(&format!("u{i}@acme.example"), "user", "Member")
            .await;
    }
    let first = events(&app, "?limit=2").await;
    let next = first["next"].as_str().unwrap().to_string();
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(next, first["events"][1]["id"]);
    let second = events(&app, &format!("?after={next}&limit=2")).await;
    assert_eq!(second["events"].as_array().unwrap().len(), 1);
    assert!(second.get("next").is_none(), "{second}");
    let last = second["events"][0]["id"].as_str().unwrap();
    let empty = events(&app, &format!("?after={last}")).await;
    assert_eq!(empty["events"], json!([]));

    for bad in ["?limit=0", "?limit=1001", "?limit=x"] {
        let r = app.get(&format!("/api/v1/events{bad}")).await;
        assert_eq!(
            error_code(r, StatusCode::BAD_REQUEST).await,
            "invalid_limit"
        );
    }
    let r = app.get("/api/v1/events?after=msg_unknown").await;
    assert_eq!(
        error_code(r, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );

    // Another org's key sees none of acme's events, nor acme's cursor.
    let (_, other) = app.new_org_key("globex").await;
    let theirs: Value = app
        .get_as(&other, "/api/v1/events")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["events"], json!([]));
    let r = app
        .get_as(&other, &format!("/api/v1/events?after={next}"))
        .await;
    assert_eq!(
        error_code(r, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
    let r = app.get_as(&other, "/api/v1/events?org=acme").await;
    assert_eq!(error_code(r, StatusCode::NOT_FOUND).await, "not_found");

    // An all-orgs key reads the org it names, or every org.
    let all = app.all_orgs_key().await;
    let named: Value = app
        .get_as(&all, "/api/v1/events?org=acme")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(named["events"].as_array().unwrap().len(), 3);
    let r = app.get_as(&all, "/api/v1/events?org=globex").await;
    assert_eq!(r.json::<Value>().await.unwrap()["events"], json!([]));
    let every: Value = app
        .get_as(&all, "/api/v1/events?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        every["events"].as_array().unwrap()[..],
        named["events"].as_array().unwrap()[..2]
    );
    let r = app.get_as(&all, "/api/v1/events?org=nope").await;
    assert_eq!(error_code(r, StatusCode::NOT_FOUND).await, "not_found");
    let r = app
        .api
        .get(format!("{}/api/v1/events", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
}

#[tokio::test]
async fn an_events_url_without_a_valid_secret_is_a_config_error() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        tokenbroker::config::Config::from_lookup(move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    };
    let err = lookup(&[("TOKENBROKER_EVENTS_URL", "http://crm.example/hooks")])
        .err()
        .unwrap();
    assert_eq!(err.var, "TOKENBROKER_EVENTS_SECRET");
    let err = lookup(&[("TOKENBROKER_EVENTS_SECRET", "not-whsec")])
        .err()
        .unwrap();
    assert_eq!(err.var, "TOKENBROKER_EVENTS_SECRET");
    assert!(!err.to_string().contains("not-whsec"), "{err}");
}

/// Makes every write to the outbox fail, through a trigger in the database.
async fn refuse_outbox_writes(database_url: &str) {
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse_events BEFORE INSERT ON events
             BEGIN SELECT RAISE(ABORT, 'outbox refused'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        for statement in [
            "CREATE FUNCTION refuse_events() RETURNS trigger AS $$
             BEGIN RAISE EXCEPTION 'outbox refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_events BEFORE INSERT ON events
             FOR EACH ROW EXECUTE FUNCTION refuse_events()",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_change_whose_event_cannot_be_written_does_not_happen() {
    let app = spawn_app_with(&[]).await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let before = app.app.store.connection_by_id(&id).await.unwrap().unwrap();
    refuse_outbox_writes(&app.database_url()).await;
    let store = &app.app.store;
    assert!(store.delete_connection(&app.org.id, &id).await.is_err());
    assert!(store
        .mark_needs_reauth(&id, before.version, "refused", 1)
        .await
        .is_err());
    let after = store.connection_by_id(&id).await.unwrap();
    let after = after.expect("the delete was rolled back with its event");
    assert_eq!(after.status, before.status);
    assert_eq!(after.version, before.version, "nor was it marked");
    let page = events(&app, "").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page:#}");
}

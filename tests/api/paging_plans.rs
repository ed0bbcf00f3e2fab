//! Every paging statement is served from an index: the database's own plan
//! shows no table scan and no sort, for each page shape, on both backends.
//! (On PostgreSQL the plan is asked with sequential scans and sorts priced
//! out, so a small table cannot hide a missing index.)

use tokenbroker::domain::{AppType, ConnectionStatus};
use tokenbroker::store::{self, ConnectionKey, ConnectionPageQuery, EmailMatch, PlanOf};

use crate::helpers::{create_org, fresh_database};
use crate::paging::seed;

fn query(org_id: &str) -> ConnectionPageQuery {
    ConnectionPageQuery {
        org_id: org_id.into(),
        status: None,
        app_type: None,
        email: None,
        updated_since: None,
        after: None,
        limit: 101,
    }
}

/// The plan lines that would mean reading the whole table or sorting it.
fn bad_lines(plan: &[String]) -> Vec<&String> {
    plan.iter()
        .filter(|line| {
            let l = line.to_ascii_lowercase();
            l.contains("seq scan")
                || l.starts_with("scan ")
                || l.contains("temp b-tree")
                || l.contains("sort")
                || l.contains("offset")
        })
        .collect()
}

#[tokio::test]
async fn every_page_shape_is_served_from_an_index() {
    let (url, _db) = fresh_database().await;
    let store = store::connect(&url).await.unwrap();
    let org = create_org(&store, "acme").await;
    seed(&store, &org.id, 0, 50).await;
    let q = query(&org.id);
    let shapes = [
        ("first page", q.clone()),
        (
            "next page",
            ConnectionPageQuery {
                after: Some(ConnectionKey::Seq(10)),
                ..q.clone()
            },
        ),
        (
            "status",
            ConnectionPageQuery {
                status: Some(ConnectionStatus::NeedsReauth),
                after: Some(ConnectionKey::Seq(10)),
                ..q.clone()
            },
        ),
        (
            "app type",
            ConnectionPageQuery {
                app_type: Some(AppType::Account),
                ..q.clone()
            },
        ),
        (
            "email prefix",
            ConnectionPageQuery {
                email: Some(EmailMatch::Prefix("user1".into())),
                after: Some(ConnectionKey::Email("user10@acme.example".into(), 11)),
                ..q.clone()
            },
        ),
        (
            "exact email",
            ConnectionPageQuery {
                email: Some(EmailMatch::Exact("user1@acme.example".into())),
                ..q.clone()
            },
        ),
        (
            "updated since",
            ConnectionPageQuery {
                updated_since: Some(1),
                after: Some(ConnectionKey::Updated(5, 11)),
                status: Some(ConnectionStatus::Active),
                ..q.clone()
            },
        ),
    ];
    for (name, shape) in shapes {
        let plan = store.explain(&PlanOf::ConnectionPage(shape)).await.unwrap();
        assert!(
            plan.iter()
                .any(|l| l.to_ascii_lowercase().contains("index")),
            "{name}: {plan:#?}"
        );
        assert!(bad_lines(&plan).is_empty(), "{name}: {plan:#?}");
    }
    for statement in [
        PlanOf::ConnectionCounts {
            org_id: org.id.clone(),
        },
        PlanOf::AuditPage {
            org_id: org.id.clone(),
            before_id: Some(100),
            limit: 51,
        },
    ] {
        let plan = store.explain(&statement).await.unwrap();
        assert!(
            plan.iter()
                .any(|l| l.to_ascii_lowercase().contains("index")),
            "{statement:?}: {plan:#?}"
        );
        // A grouped count may sort its handful of groups; it must not scan.
        let scans: Vec<_> = bad_lines(&plan)
            .into_iter()
            .filter(|l| !l.to_ascii_lowercase().contains("group by"))
            .collect();
        assert!(scans.is_empty(), "{statement:?}: {plan:#?}");
    }
}

#[tokio::test]
async fn a_missing_index_shows_in_the_plan() {
    // The check above must be able to fail: without the paging index, the
    // same database reports a scan or a sort for the plain page.
    let (url, _db) = fresh_database().await;
    let store = store::connect(&url).await.unwrap();
    let org = create_org(&store, "acme").await;
    drop_index(&url, "connections_page").await;
    // A fresh pool: an open SQLite connection may keep the schema it read.
    drop(store);
    let store = store::connect(&url).await.unwrap();
    let plan = store
        .explain(&PlanOf::ConnectionPage(query(&org.id)))
        .await
        .unwrap();
    assert!(!bad_lines(&plan).is_empty(), "{plan:#?}");
}

async fn drop_index(url: &str, name: &str) {
    use sqlx::Connection;
    let statement = sqlx::AssertSqlSafe(format!("DROP INDEX {name}"));
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(statement).execute(&mut c).await.unwrap();
    }
}

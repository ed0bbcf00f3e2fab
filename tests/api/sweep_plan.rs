//! The background sweep reads indexed pages, never the whole table: the
//! plans of its two page queries, on a table seeded with 20,000
//! connections of which 1% were used recently and 1% hold an old refresh
//! token (every access token expired: the worst case of the old sweep).

use sqlx::Row;
use tokenbroker::store::usage::{KEEPALIVE_PAGE, USED_PAGE};

use crate::helpers::spawn_app;

const ROWS: i64 = 20_000;

/// Columns and values of a seeded row; `g` is the row number.
const SEED_SELECT: &str = "
    SELECT 'seed-' || g, $1, 'user', 'subject-' || g, 'zu-' || g, 'za', 'u' || g || '@seed.example',
           NULL, 'active', NULL, '', 'sealed', 'sealed', 1000, 0, NULL, NULL, NULL, 0, 0, 0,
           CASE WHEN g % 100 = 0 THEN 100000 ELSE 10 END,
           CASE WHEN g % 100 = 1 THEN 5 ELSE 50000 + g END";
const SEED_INTO: &str = "
    INSERT INTO connections (
        id, org_id, app_type, subject, zoom_user_id, zoom_account_id, email, role_name,
        status, status_reason, scopes, access_token, refresh_token, access_expires_at,
        version, lease_owner, lease_until, last_refreshed_at, created_at, updated_at,
        authorized_at, last_used_at, refresh_issued_at)";

/// The sweep's first pages, as the store binds them: used since 99,000 (the
/// seek starts there); issued before 1,000; expiring before 200,000; now
/// 100,000; pages of 500.
fn explain(prefix: &str, page: &str) -> String {
    format!("{prefix} {page}")
}

#[tokio::test]
async fn the_sweep_pages_are_index_range_scans() {
    let app = spawn_app().await;
    let url = app.app.config.database_url.clone();
    let plans: Vec<String> = if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let seed = format!("{SEED_INTO} {SEED_SELECT} FROM generate_series(1, {ROWS}) AS g");
        sqlx::query(sqlx::AssertSqlSafe(seed))
            .bind(&app.org.id)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("ANALYZE connections")
            .execute(&pool)
            .await
            .unwrap();
        let mut plans = Vec::new();
        for page in [USED_PAGE, KEEPALIVE_PAGE] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(explain("EXPLAIN", page)))
                .bind(if page == USED_PAGE { 99_000i64 } else { 1_000 })
                .bind(if page == USED_PAGE {
                    99_000i64
                } else {
                    i64::MIN
                })
                .bind("")
                .bind(200_000i64)
                .bind(100_000i64)
                .bind(500i64)
                .fetch_all(&pool)
                .await
                .unwrap();
            let lines: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
            plans.push(lines.join("\n"));
        }
        plans
    } else {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let seed = format!(
            "{SEED_INTO} WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < {ROWS}) {SEED_SELECT} FROM n"
        );
        sqlx::query(sqlx::AssertSqlSafe(seed))
            .bind(&app.org.id)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
        let mut plans = Vec::new();
        for page in [USED_PAGE, KEEPALIVE_PAGE] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(explain("EXPLAIN QUERY PLAN", page)))
                .bind(if page == USED_PAGE { 99_000i64 } else { 1_000 })
                .bind(if page == USED_PAGE {
                    99_000i64
                } else {
                    i64::MIN
                })
                .bind("")
                .bind(200_000i64)
                .bind(100_000i64)
                .bind(500i64)
                .fetch_all(&pool)
                .await
                .unwrap();
            let lines: Vec<String> = rows.iter().map(|r| r.get::<String, _>(3)).collect();
            plans.push(lines.join("\n"));
        }
        plans
    };
    println!(
        "used page plan:\n{}\nkeep-alive page plan:\n{}",
        plans[0], plans[1]
    );
    for (plan, index) in plans
        .iter()
        .zip(["connections_by_use", "connections_by_refresh_age"])
    {
        assert!(
            plan.contains(index),
            "the page does not use {index}:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "a whole-table scan:\n{plan}");
        assert!(
            !plan
                .lines()
                .any(|l| l.starts_with("SCAN") && !l.contains("INDEX")),
            "a whole-table scan:\n{plan}"
        );
    }
}

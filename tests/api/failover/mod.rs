//! PostgreSQL failover (issue 22): a primary and a streaming standby, both
//! throwaway clusters of the test's own; the broker is given both hosts
//! (`DATABASE_URL=postgres://…@p1,p2/…?target_session_attrs=read-write`).
//!
//! These start two clusters and run only on PostgreSQL runs of the suite
//! (`TEST_DATABASE_URL` set); a SQLite run says that it skipped them.

mod async_loss;
mod drill;
mod hosts;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::Connection;

use crate::pg_cluster::PgCluster;

/// Synchronous replication: a commit returns once the standby has it.
pub const SYNC: &[&str] = &["synchronous_standby_names=*", "synchronous_commit=on"];

pub fn on_postgres_run(test: &str) -> bool {
    let on = std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if !on {
        eprintln!("{test}: PostgreSQL runs only (TEST_DATABASE_URL unset); skipped");
    }
    on
}

pub fn email(i: usize) -> String {
    format!("u{i}@acme.example")
}

/// Whether `/metrics` of `base` has exactly this line (not just its HELP text).
pub async fn metric_line(api: &reqwest::Client, base: &str, line: &str) -> bool {
    let Ok(answer) = api.get(format!("{base}/metrics")).send().await else {
        return false;
    };
    let text = answer.text().await.unwrap_or_default();
    text.lines().any(|l| l == line)
}

/// Revokes `victim_id` through the first replica and returns how long
/// until every replica refuses the key `victim` (2 s at most).
pub async fn revocation_reaches(
    api: &reqwest::Client,
    bases: &[String],
    admin: &str,
    victim_id: &str,
    victim: &str,
) -> Duration {
    let revoke = api
        .delete(format!("{}/api/v1/api-keys/{}", bases[0], victim_id))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let revoked = Instant::now();
    let mut reached = Duration::ZERO;
    for base in bases {
        loop {
            let answer = api
                .get(format!("{base}/api/v1/orgs/acme/connections"))
                .bearer_auth(victim)
                .send()
                .await
                .unwrap();
            if answer.status() == StatusCode::UNAUTHORIZED {
                reached = reached.max(revoked.elapsed());
                break;
            }
            assert!(
                revoked.elapsed() < Duration::from_secs(2),
                "{base} still takes the key"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    reached
}

pub struct Pair {
    pub primary: PgCluster,
    pub standby: PgCluster,
}

impl Pair {
    /// A primary with `settings` and its standby, replicating.
    pub async fn start(settings: &[&str]) -> Pair {
        let primary = PgCluster::start_with(settings).await;
        let standby = PgCluster::standby_of(&primary, &[]).await;
        let pair = Pair { primary, standby };
        pair.wait_streaming().await;
        pair
    }

    /// Both hosts, primary first, as production would list them.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
            self.primary.port(),
            self.standby.port()
        )
    }

    async fn scalar_i64(url: &str, sql: &'static str) -> Option<i64> {
        let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.ok()
    }

    /// Polls `sql` on `url` until it answers `want` (30 s at most).
    async fn wait_for_count(url: &str, sql: &'static str, want: i64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Self::scalar_i64(url, sql).await != Some(want) {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_streaming(&self) {
        let sql = "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'";
        Self::wait_for_count(&self.primary.url(), sql, 1, "the standby never streamed").await;
    }

    /// Waits until the standby has replayed everything the primary wrote.
    pub async fn wait_caught_up(&self) {
        let mut primary = sqlx::PgConnection::connect(&self.primary.url())
            .await
            .unwrap();
        let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&mut primary)
            .await
            .unwrap();
        let mut standby = sqlx::PgConnection::connect(&self.standby.url())
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let behind: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn")
                .bind(&lsn)
                .fetch_one(&mut standby)
                .await
                .unwrap();
            if !behind {
                return;
            }
            assert!(Instant::now() < deadline, "the standby did not catch up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The standby stops receiving WAL (a lagging or cut-off standby), so
    /// an asynchronous commit on the primary never reaches it.
    pub async fn cut_off_standby(&self) {
        let mut standby = sqlx::PgConnection::connect(&self.standby.url())
            .await
            .unwrap();
        sqlx::query("ALTER SYSTEM SET primary_conninfo = ''")
            .execute(&mut standby)
            .await
            .unwrap();
        sqlx::query("SELECT pg_reload_conf()")
            .execute(&mut standby)
            .await
            .unwrap();
        let sql = "SELECT count(*) FROM pg_stat_wal_receiver";
        Self::wait_for_count(&self.standby.url(), sql, 0, "the WAL receiver did not stop").await;
    }

    /// SIGKILL the primary, then promote the standby. Returns when the
    /// standby took writes.
    pub async fn fail_over(&mut self) -> Instant {
        self.primary.kill();
        self.standby.promote().await;
        Instant::now()
    }
}

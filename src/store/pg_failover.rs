//! Following the PostgreSQL primary across a failover, as libpq does with a
//! host list and `target_session_attrs=read-write` (see `pg_targets`).
//!
//! - At start the hosts are tried in order; the first writable one is used.
//! - Every new pool connection is checked (`after_connect`): one that lands
//!   on a read-only server (a standby, a demoted primary behind a DNS name
//!   that has not moved yet) is refused, so the pool retries.
//! - A watcher asks the pool once a second whether it still reaches a
//!   writable server. When it does not (the primary died, or was demoted),
//!   the hosts are tried in order again and the pool's connect options
//!   point at the first writable one; connections opened before that switch
//!   are dropped when next handed out (`before_acquire`).
//!
//! sqlx's pool re-reads its connect options on every connect retry, so
//! callers already waiting for a connection land on the new primary as soon
//! as the watcher has found it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use tokio::sync::Notify;

use super::pg_targets::{PgTargets, SessionAttrs};

/// True on a server that cannot take writes, whichever the reason.
const READ_ONLY: &str =
    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'";
/// How often the watcher checks the current host.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// One host's connect and check, at most.
const PROBE_LIMIT: Duration = Duration::from_secs(1);

struct Follower {
    targets: PgTargets,
    current: AtomicUsize,
    switched_at: Mutex<Option<Instant>>,
    nudge: Notify,
}

impl Follower {
    fn predates_switch(&self, age: Duration) -> bool {
        let switched = *self.switched_at.lock().expect("switch time");
        switched.is_some_and(|at| age > at.elapsed())
    }

    async fn check_new(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.targets.attrs == SessionAttrs::Any {
            return Ok(());
        }
        let read_only: bool = sqlx::query_scalar(READ_ONLY).fetch_one(&mut *conn).await?;
        if read_only {
            self.nudge.notify_one();
            return Err(sqlx::Error::Configuration(
                "connected to a read-only PostgreSQL server (a standby?); looking for the primary"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn current_is_good(&self, pool: &PgPool) -> bool {
        let check = sqlx::query_scalar::<_, bool>(READ_ONLY).fetch_one(pool);
        match tokio::time::timeout(PROBE_LIMIT, check).await {
            Ok(Ok(read_only)) => !read_only || self.targets.attrs == SessionAttrs::Any,
            _ => false,
        }
    }

    async fn watch(self: Arc<Self>, pool: PgPool) {
        let closed = pool.close_event();
        tokio::pin!(closed);
        loop {
            tokio::select! {
                _ = &mut closed => return,
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = self.nudge.notified() => {}
            }
            if self.current_is_good(&pool).await {
                continue;
            }
            let Ok((index, options)) = find_primary(&self.targets).await else {
                tracing::debug!("no writable PostgreSQL host yet");
                continue;
            };
            let before = self.current.swap(index, Ordering::SeqCst);
            if before != index {
                pool.set_connect_options(options);
                *self.switched_at.lock().expect("switch time") = Some(Instant::now());
                tracing::warn!(
                    from = %self.targets.hosts[before].label,
                    to = %self.targets.hosts[index].label,
                    "PostgreSQL primary moved; new connections go to the new host"
                );
            }
        }
    }
}

/// Connects to `options` and tells whether the server takes writes.
async fn probe(options: &PgConnectOptions) -> Result<bool, sqlx::Error> {
    let work = async {
        let mut conn = PgConnection::connect_with(options).await?;
        let read_only: bool = sqlx::query_scalar(READ_ONLY).fetch_one(&mut conn).await?;
        let _ = conn.close().await;
        Ok(!read_only)
    };
    tokio::time::timeout(PROBE_LIMIT, work)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

/// The first host, in list order, that fits the session attributes.
async fn find_primary(targets: &PgTargets) -> Result<(usize, PgConnectOptions), sqlx::Error> {
    let mut last = None;
    for (index, target) in targets.hosts.iter().enumerate() {
        match probe(&target.options).await {
            Ok(writable) if writable || targets.attrs == SessionAttrs::Any => {
                return Ok((index, target.options.clone()));
            }
            Ok(_) => {}
            Err(err) => last = Some(err),
        }
    }
    let hosts: Vec<&str> = targets.hosts.iter().map(|h| h.label.as_str()).collect();
    Err(last.unwrap_or_else(|| {
        sqlx::Error::Configuration(
            format!("no writable PostgreSQL host among {}", hosts.join(", ")).into(),
        )
    }))
}

/// The broker's pool; for a host list (or `target_session_attrs`), one that
/// follows the primary.
pub async fn open_pool(url: &str, acquire_timeout: Duration) -> Result<PgPool, sqlx::Error> {
    let base = || {
        PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(acquire_timeout)
    };
    let targets = PgTargets::parse(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    if !targets.is_failover() {
        return base().connect(url).await;
    }
    let (index, first) = find_primary(&targets).await?;
    let follower = Arc::new(Follower {
        targets,
        current: AtomicUsize::new(index),
        switched_at: Mutex::new(None),
        nudge: Notify::new(),
    });
    let (on_connect, on_acquire) = (follower.clone(), follower.clone());
    let pool = base()
        .after_connect(move |conn, _| {
            let follower = on_connect.clone();
            Box::pin(async move { follower.check_new(conn).await })
        })
        .before_acquire(move |_, meta| {
            let keep = !on_acquire.predates_switch(meta.age);
            Box::pin(async move { Ok(keep) })
        })
        .connect_with(first)
        .await?;
    tokio::spawn(follower.watch(pool.clone()));
    Ok(pool)
}

/// A one-connection pool on the current primary, for `LISTEN` (which a
/// standby refuses). Each reconnect of the listener calls this again, so it
/// follows a failover without a watcher of its own.
pub async fn listener_pool(url: &str) -> Result<PgPool, sqlx::Error> {
    let targets = PgTargets::parse(url).map_err(|e| sqlx::Error::Configuration(e.into()))?;
    let options = if targets.is_failover() {
        find_primary(&targets).await?.1
    } else {
        url.parse()?
    };
    PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await
}

//! Which connections are in use, noted in memory on every token handed out
//! and written to `connections.last_used_at` in batches: one statement per
//! flush (per thousand connections), never one write per token call, and
//! at most one write per connection per `TOKENBROKER_USAGE_GRANULARITY_SECS`
//! (issue 20): the row is an index key, so each write costs an index entry
//! as well, and with a million connections in use writes per flush would
//! grow with the calls instead of with time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::store::StoreResult;

#[derive(Default)]
pub struct UsageLog {
    /// Connection id → latest use (unix seconds) since the last flush.
    pending: Mutex<HashMap<String, i64>>,
    flushes: AtomicU64,
    statements: AtomicU64,
    rows_written: AtomicU64,
}

/// False when the stored use is recent enough to stand for a use at `now`:
/// within `granularity` seconds. The store checks the same condition when
/// it writes, so this only saves the statement, never decides alone.
pub fn needs_recording(recorded: Option<i64>, now: i64, granularity: i64) -> bool {
    recorded.is_none_or(|at| at <= now - granularity)
}

impl UsageLog {
    /// Notes a use. Cheap: one short lock, no I/O.
    pub fn note(&self, connection_id: &str, now: i64) {
        let mut pending = self.pending.lock().expect("usage log poisoned");
        match pending.get_mut(connection_id) {
            Some(at) => *at = (*at).max(now),
            None => {
                pending.insert(connection_id.to_string(), now);
            }
        }
    }

    /// Uses noted and not yet written.
    pub fn pending(&self) -> usize {
        self.pending.lock().expect("usage log poisoned").len()
    }

    /// Flushes that wrote something, since start.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Statements those flushes ran.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Rows those statements changed, as the database counted them.
    pub fn rows_written(&self) -> u64 {
        self.rows_written.load(Ordering::Relaxed)
    }

    fn take(&self) -> Vec<(String, i64)> {
        let mut pending = self.pending.lock().expect("usage log poisoned");
        std::mem::take(&mut *pending).into_iter().collect()
    }

    /// Puts back uses whose write failed, so a database outage delays them
    /// instead of losing them. Bounded: one entry per connection.
    fn restore(&self, uses: Vec<(String, i64)>) {
        let mut pending = self.pending.lock().expect("usage log poisoned");
        for (id, at) in uses {
            let slot = pending.entry(id).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
}

/// Writes the API keys' noted uses (`api_keys.last_used_at`): one small
/// statement per key used since the last flush, never one per request.
pub async fn flush_key_usage(app: &AppState) -> StoreResult<usize> {
    let log = &app.caches.api_key_usage;
    let uses = log.take();
    if uses.is_empty() {
        return Ok(0);
    }
    match app.store.record_api_key_use(&uses).await {
        Ok(_) => {
            log.flushes.fetch_add(1, Ordering::Relaxed);
            log.statements
                .fetch_add(uses.len() as u64, Ordering::Relaxed);
            Ok(uses.len())
        }
        Err(err) => {
            log.restore(uses);
            Err(err)
        }
    }
}

/// Writes the noted uses now (API keys' too). Returns how many connections they covered.
pub async fn flush_usage(app: &AppState) -> StoreResult<usize> {
    flush_key_usage(app).await?;
    let log = &app.refresher.usage;
    let uses = log.take();
    if uses.is_empty() {
        return Ok(0);
    }
    let granularity = app.config.refresh_policy.usage_granularity.as_secs() as i64;
    match app.store.record_use(&uses, granularity).await {
        Ok(written) => {
            log.flushes.fetch_add(1, Ordering::Relaxed);
            log.rows_written.fetch_add(written, Ordering::Relaxed);
            let statements = uses.len().div_ceil(crate::store::usage::USE_BATCH) as u64;
            log.statements.fetch_add(statements, Ordering::Relaxed);
            Ok(uses.len())
        }
        Err(err) => {
            log.restore(uses);
            Err(err)
        }
    }
}

/// Flushes every `TOKENBROKER_USAGE_FLUSH_MS`. The server flushes once more
/// when it stops, after the last request has been answered.
pub fn spawn_usage_flusher(app: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = app.config.refresh_policy.usage_flush;
        loop {
            tokio::time::sleep(every).await;
            if let Err(err) = flush_usage(&app).await {
                tracing::warn!(%err, "could not record connection use; kept for the next flush");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_uses_of_one_connection_leave_one_entry_with_the_latest_time() {
        let log = UsageLog::default();
        for t in [5, 9, 7] {
            log.note("a", t);
        }
        log.note("b", 1);
        let mut taken = log.take();
        taken.sort();
        assert_eq!(taken, vec![("a".to_string(), 9), ("b".to_string(), 1)]);
        assert_eq!(log.pending(), 0);
        log.note("a", 3);
        log.restore(vec![("a".into(), 8)]);
        assert_eq!(log.take(), vec![("a".to_string(), 8)]);
    }

    #[test]
    fn a_use_is_recorded_only_once_its_stored_use_is_a_granularity_old() {
        assert!(needs_recording(None, 1_000, 300));
        assert!(!needs_recording(Some(1_000), 1_000, 300));
        assert!(!needs_recording(Some(701), 1_000, 300));
        assert!(needs_recording(Some(700), 1_000, 300));
        // A zero granularity records every flush's latest use.
        assert!(needs_recording(Some(1_000), 1_000, 0));
    }
}

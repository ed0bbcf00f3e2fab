//! One window of a bucket as this process holds it: named by the ledger's
//! wall-clock end, timed by a monotonic instant.

use std::time::{Duration, Instant};

/// Permits of one window.
#[derive(Default, Clone, Copy)]
pub(super) struct Window {
    /// The window ends here, by this process's estimate; `None`: none yet.
    pub(super) end: Option<Instant>,
    /// Its end on the ledger's clock (unix ms): the window's name there,
    /// exact where `end` is only an estimate of it.
    pub(super) ledger_end_ms: i64,
    pub(super) permits: i64,
    /// The ledger may still have permits for this window.
    pub(super) more: bool,
}

impl Window {
    pub(super) fn open_at(&self, now: Instant) -> bool {
        self.end.is_some_and(|end| end > now)
    }

    /// Time left until its end; zero when it has ended.
    pub(super) fn left(&self, now: Instant) -> Duration {
        self.end
            .map_or(Duration::ZERO, |end| end.saturating_duration_since(now))
    }
}

/// The instant `at_ms` names, on a clock that reads `clock_ms` now (unix ms).
pub(super) fn instant_of(at_ms: i64, clock_ms: i64, now: Instant) -> Instant {
    let ahead = Duration::from_millis(at_ms.saturating_sub(clock_ms).max(0) as u64);
    now + ahead
}

//! What this process last stored for each refreshed row, so that a database
//! that went back in time is noticed.
//!
//! After a failover with asynchronous replication, the new primary may lack
//! a rotation the old one acknowledged: the row is back at an older version
//! whose refresh token Zoom has already spent. Zoom then answers
//! `invalid_grant`, as it does for a grant revoked there. The process that
//! stored the lost rotation still remembers its version, which tells the
//! two apart; another process cannot, and says both are possible.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Enough for every connection refreshed in an hour at any size this
/// broker is run at; past it the oldest entries go first.
const CAPACITY: usize = 200_000;
/// A lost rotation is noticed at the next refresh, within an hour or so.
const KEEP: Duration = Duration::from_secs(6 * 3600);

#[derive(Default)]
pub struct RotationJournal {
    stored: Mutex<HashMap<String, (i64, Instant)>>,
}

impl RotationJournal {
    /// The row `id` was stored by us at `version`.
    pub fn record(&self, id: &str, version: i64) {
        let mut map = self.stored.lock().expect("journal poisoned");
        if map.len() >= CAPACITY {
            map.retain(|_, (_, at)| at.elapsed() < KEEP);
            if map.len() >= CAPACITY {
                let mut ages: Vec<Instant> = map.values().map(|(_, at)| *at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, (_, at)| *at > cut);
            }
        }
        map.insert(id.to_string(), (version, Instant::now()));
    }

    /// The newer version we stored, when the database now shows `version`.
    pub fn lost_since(&self, id: &str, version: i64) -> Option<i64> {
        let map = self.stored.lock().expect("journal poisoned");
        map.get(id)
            .filter(|(stored, at)| *stored > version && at.elapsed() < KEEP)
            .map(|(stored, _)| *stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_row_than_we_stored_is_a_lost_write_and_a_newer_one_is_not() {
        let j = RotationJournal::default();
        assert_eq!(j.lost_since("c1", 3), None);
        j.record("c1", 4);
        assert_eq!(j.lost_since("c1", 3), Some(4));
        assert_eq!(j.lost_since("c1", 4), None);
        assert_eq!(j.lost_since("c1", 5), None);
        assert_eq!(j.lost_since("c2", 3), None);
    }

    #[test]
    fn a_full_journal_keeps_its_newest_entries() {
        let j = RotationJournal::default();
        for i in 0..CAPACITY + 10 {
            j.record(&format!("c{i}"), 2);
        }
        let len = j.stored.lock().unwrap().len();
        assert!(len < CAPACITY && len > 10, "{len}");
        assert_eq!(j.lost_since(&format!("c{}", CAPACITY + 9), 1), Some(2));
    }
}

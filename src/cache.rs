//! A small time-bounded cache for the token API's hot path.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries expire on their own deadline; reads never extend them.
pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    max_entries: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max_entries,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache poisoned");
        match entries.get(key) {
            Some((value, until)) if *until > Instant::now() => Some(value.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("cache poisoned");
        if entries.len() >= self.max_entries {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now() + ttl));
    }

    pub fn remove_where(&self, mut doomed: impl FnMut(&K) -> bool) {
        self.entries
            .lock()
            .expect("cache poisoned")
            .retain(|k, _| !doomed(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_evicted() {
        let cache = TtlCache::new(2);
        cache.insert("a", 1, Duration::from_secs(60));
        cache.insert("b", 2, Duration::ZERO);
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
        cache.remove_where(|k| *k == "a");
        assert_eq!(cache.get(&"a"), None);
    }
}

//! A small time-bounded cache for the token API's hot path.

use std::hash::{Hash, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use hashbrown::Equivalent;

/// The token cache's key: an org id and a user's email (empty: the org's own token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    pub org_id: String,
    pub email: String,
}

/// A `TokenKey` borrowed from the request; hashes as the key it stands for.
#[derive(Hash)]
pub struct TokenKeyRef<'a> {
    pub org_id: &'a str,
    pub email: &'a str,
}

impl TokenKeyRef<'_> {
    pub fn to_owned(&self) -> TokenKey {
        TokenKey {
            org_id: self.org_id.to_string(),
            email: self.email.to_string(),
        }
    }
}

impl Equivalent<TokenKey> for TokenKeyRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        self.org_id == key.org_id && self.email == key.email
    }
}

/// Entries expire on their own deadline; reads never extend them. Looked up
/// by anything `Equivalent` to the key (a `&str` for a `String`, a pair of
/// borrowed strings for `TokenKey`), so a hit allocates nothing. Hashed
/// with the standard library's keyed SipHash: callers choose the keys.
pub struct TtlCache<K, V> {
    entries: Mutex<hashbrown::HashMap<K, (V, Instant), RandomState>>,
    max_entries: usize,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(hashbrown::HashMap::with_hasher(RandomState::new())),
            max_entries,
        }
    }

    pub fn get<Q: Hash + Equivalent<K> + ?Sized>(&self, key: &Q) -> Option<V> {
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

    #[test]
    fn borrowed_keys_find_owned_ones() {
        let ids = TtlCache::new(4);
        ids.insert("id-1".to_string(), 1, Duration::from_secs(60));
        assert_eq!(ids.get("id-1"), Some(1));
        assert_eq!(ids.get("id-2"), None);

        let tokens = TtlCache::new(4);
        let key = TokenKeyRef {
            org_id: "org",
            email: "a@b.example",
        };
        tokens.insert(key.to_owned(), 7, Duration::from_secs(60));
        assert_eq!(tokens.get(&key), Some(7));
        // The same characters split elsewhere are another key.
        let shifted = TokenKeyRef {
            org_id: "orga",
            email: "@b.example",
        };
        assert_eq!(tokens.get(&shifted), None);
    }
}

//! A small time-bounded cache for the token API's hot path.

use std::hash::{Hash, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use hashbrown::Equivalent;

use crate::crypto::{ct_eq, sha256};
use crate::domain::Scope;
use crate::store::ApiKey;

/// An API key row as every call checks it: its scopes parsed and its
/// secret's digest decoded once per cache fill, not once per call.
#[derive(Debug)]
pub struct CachedApiKey {
    pub id: String,
    /// `None`: the key may act on every org.
    pub org_id: Option<String>,
    pub scopes: Vec<Scope>,
    /// `None`: a stored hash that is not 64 hex digits, which no secret matches.
    secret_sha256: Option<[u8; 32]>,
    pub revoked: bool,
    pub expires_at: Option<i64>,
    /// The second a use of the key was last noted: uses are recorded to the
    /// second, so later calls within it need not take the usage log's lock.
    noted_at: AtomicI64,
}

impl CachedApiKey {
    pub fn from_row(row: &ApiKey) -> Self {
        let mut digest = [0u8; 32];
        let secret_sha256 = hex::decode_to_slice(&row.secret_hash, &mut digest)
            .ok()
            .map(|()| digest);
        Self {
            id: row.id.clone(),
            org_id: row.org_id.clone(),
            scopes: Scope::split(&row.scopes),
            secret_sha256,
            revoked: row.revoked_at.is_some(),
            expires_at: row.expires_at,
            noted_at: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether `secret` hashes to the stored digest, compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_sha256
            .is_some_and(|stored| ct_eq(&sha256(secret.as_bytes()), &stored))
    }

    /// True the first time it is asked within the second `now`.
    pub fn first_use_within(&self, now: i64) -> bool {
        // A plain load first: every core may read the line at once, while
        // a write per call would bounce it between them.
        self.noted_at.load(Ordering::Relaxed) < now
            && self.noted_at.fetch_max(now, Ordering::Relaxed) < now
    }
}

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

    fn key_row(secret_hash: &str) -> ApiKey {
        ApiKey {
            id: "0123456789abcdef".into(),
            org_id: None,
            secret_hash: secret_hash.into(),
            label: None,
            created_at: 0,
            last_used_at: None,
            revoked_at: None,
            scopes: "tokens:read nonsense".into(),
            expires_at: None,
        }
    }

    #[test]
    fn a_cached_key_checks_the_secret_against_the_stored_digest() {
        // FIPS 180-2's SHA-256 of "abc", not our own hashing.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let key = CachedApiKey::from_row(&key_row(abc));
        assert!(key.secret_matches("abc"));
        assert!(!key.secret_matches("abd"));
        assert!(!key.secret_matches(""));
        assert_eq!(
            key.scopes,
            vec![Scope::TokensRead],
            "unknown texts are skipped"
        );
        // A stored hash that is not 64 hex digits matches nothing, not even itself.
        for broken in ["", "zz", &abc[..62], &format!("{abc}00")] {
            let key = CachedApiKey::from_row(&key_row(broken));
            assert!(!key.secret_matches("abc"), "{broken:?}");
            assert!(!key.secret_matches(broken), "{broken:?}");
        }
    }

    #[test]
    fn a_keys_use_is_noted_once_per_second() {
        let key = CachedApiKey::from_row(&key_row(""));
        assert!(key.first_use_within(100));
        assert!(!key.first_use_within(100));
        assert!(
            !key.first_use_within(99),
            "an earlier second is already covered"
        );
        assert!(key.first_use_within(101));
    }
}

//! An API key row as the token API checks it on every call.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::crypto::{ct_eq, sha256};
use crate::domain::Scope;

use super::ApiKey;

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Secrets at rest and random credentials.
//!
//! Every secret is sealed with AES-256-GCM under a named key (`kid`). The
//! associated data names the table, row and column the ciphertext belongs to,
//! so a ciphertext copied into another row or column fails to open.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Prefix of every sealed value; bumps if the format ever changes.
const SEALED_PREFIX: &str = "tbx1";
const NONCE_LEN: usize = 12;
/// The key id given to a bare key without a `kid:` prefix.
pub const DEFAULT_KID: &str = "default";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("is empty")]
    Empty,
    #[error("key id {0:?} must be 1-32 characters of A-Z, a-z, 0-9, '_' or '-'")]
    BadKid(String),
    #[error("key {0:?} is not base64 of exactly 32 bytes")]
    BadKey(String),
    #[error("key id {0:?} is listed twice")]
    DuplicateKid(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with unknown key id {0:?}")]
    UnknownKid(String),
    #[error("ciphertext failed authentication (wrong key, row or column)")]
    Authentication,
}

/// A column that holds sealed values. The list is closed: every sealed value
/// lives in one of these, so `rotate-keys` can walk them all, and the table
/// and column names are fixed here, never taken from input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
}

impl SealedColumn {
    const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }

    pub const CONNECTION_ACCESS_TOKEN: Self = Self::new("connections", "access_token");
    pub const CONNECTION_REFRESH_TOKEN: Self = Self::new("connections", "refresh_token");
    pub const S2S_CLIENT_SECRET: Self = Self::new("s2s_credentials", "client_secret");
    pub const S2S_ACCESS_TOKEN: Self = Self::new("s2s_credentials", "access_token");
    pub const JWT_API_SECRET: Self = Self::new("jwt_credentials", "api_secret");
    pub const PKCE_VERIFIER: Self = Self::new("pending_authorizations", "pkce_verifier");
    pub const ORG_APP_CLIENT_SECRET: Self = Self::new("org_oauth_apps", "client_secret");
    pub const ORG_APP_WEBHOOK_SECRET: Self = Self::new("org_oauth_apps", "webhook_secret_token");
    pub const SDK_SECRET: Self = Self::new("sdk_credentials", "sdk_secret");

    pub const ALL: &'static [Self] = &[
        Self::CONNECTION_ACCESS_TOKEN,
        Self::CONNECTION_REFRESH_TOKEN,
        Self::S2S_CLIENT_SECRET,
        Self::S2S_ACCESS_TOKEN,
        Self::JWT_API_SECRET,
        Self::PKCE_VERIFIER,
        Self::ORG_APP_CLIENT_SECRET,
        Self::ORG_APP_WEBHOOK_SECRET,
        Self::SDK_SECRET,
    ];
}

/// Where a ciphertext lives. Bound into the GCM tag as associated data.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub column: SealedColumn,
    pub row: &'a str,
}

impl<'a> Aad<'a> {
    pub fn new(column: SealedColumn, row: &'a str) -> Self {
        Self { column, row }
    }

    fn bytes(&self) -> Vec<u8> {
        // Length-prefixed so that ("a|b","c") and ("a","b|c") never collide.
        let mut out = b"tokenbroker/aad/v1".to_vec();
        for part in [self.column.table, self.row, self.column.column] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

/// The master keys: the first writes, every key reads.
#[derive(Clone)]
pub struct Keyring {
    write_kid: String,
    write_key: [u8; 32],
    /// Every key in the configured order, the write key first.
    keys: Vec<[u8; 32]>,
    ciphers: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<_> = self.ciphers.keys().collect();
        kids.sort();
        f.debug_struct("Keyring")
            .field("write_kid", &self.write_kid)
            .field("kids", &kids)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Parses `base64` or `kid1:base64,kid0:base64`.
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let mut write: Option<(String, [u8; 32])> = None;
        let mut ciphers = HashMap::new();
        let mut keys = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (kid, b64) = match entry.split_once(':') {
                Some((kid, b64)) => (kid.trim(), b64.trim()),
                None => (DEFAULT_KID, entry),
            };
            let valid_kid = !kid.is_empty()
                && kid.len() <= 32
                && kid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid_kid {
                return Err(KeyringError::BadKid(kid.to_string()));
            }
            let key: [u8; 32] = STANDARD
                .decode(b64)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| KeyringError::BadKey(kid.to_string()))?;
            let cipher = Aes256Gcm::new(&key.into());
            if ciphers.insert(kid.to_string(), cipher).is_some() {
                return Err(KeyringError::DuplicateKid(kid.to_string()));
            }
            if write.is_none() {
                write = Some((kid.to_string(), key));
            }
            keys.push(key);
        }
        let (write_kid, write_key) = write.ok_or(KeyringError::Empty)?;
        Ok(Self {
            write_kid,
            write_key,
            keys,
            ciphers,
        })
    }

    /// A fresh random key, base64 encoded, as `tokenbroker gen-key` prints it.
    pub fn generate_key_b64() -> String {
        STANDARD.encode(random_bytes::<32>())
    }

    pub fn write_kid(&self) -> &str {
        &self.write_kid
    }

    /// Seals `plaintext` under the write key with a fresh random nonce.
    pub fn seal(&self, aad: Aad<'_>, plaintext: &[u8]) -> String {
        let cipher = &self.ciphers[&self.write_kid];
        let nonce = Nonce::generate();
        let aad = aad.bytes();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!(
            "{SEALED_PREFIX}.{}.{}",
            self.write_kid,
            URL_SAFE_NO_PAD.encode(blob)
        )
    }

    pub fn seal_str(&self, aad: Aad<'_>, plaintext: &str) -> String {
        self.seal(aad, plaintext.as_bytes())
    }

    pub fn open(&self, aad: Aad<'_>, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let (kid, blob) = split_sealed(sealed)?;
        let cipher = self
            .ciphers
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKid(kid.to_string()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(blob)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let nonce = Nonce::try_from(&blob[..NONCE_LEN]).map_err(|_| CryptoError::Malformed)?;
        let aad = aad.bytes();
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &blob[NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Authentication)
    }

    pub fn open_string(&self, aad: Aad<'_>, sealed: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(aad, sealed)?).map_err(|_| CryptoError::Malformed)
    }

    /// True when `sealed` was written under the current write key.
    pub fn is_current(&self, sealed: &str) -> bool {
        matches!(split_sealed(sealed), Ok((kid, _)) if kid == self.write_kid)
    }

    /// Key material for signed/encrypted cookies, derived so it never equals a data key.
    pub fn cookie_key_material(&self) -> [u8; 64] {
        cookie_material(&self.write_key)
    }

    /// Cookie key material for every key, the write key's first: cookies are
    /// written under the first and opened under any, so rotating the master
    /// key signs nobody out and breaks no authorization in flight.
    pub fn cookie_key_materials(&self) -> Vec<[u8; 64]> {
        self.keys.iter().map(cookie_material).collect()
    }
}

fn cookie_material(key: &[u8; 32]) -> [u8; 64] {
    let mut hasher = Sha512::new();
    hasher.update(b"tokenbroker/cookie-key/v1");
    hasher.update(key);
    hasher.finalize().into()
}

/// Returns the key id a sealed value names.
pub fn sealed_kid(sealed: &str) -> Option<&str> {
    split_sealed(sealed).ok().map(|(kid, _)| kid)
}

fn split_sealed(sealed: &str) -> Result<(&str, &str), CryptoError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(SEALED_PREFIX), Some(kid), Some(blob)) if !kid.is_empty() => Ok((kid, blob)),
        _ => Err(CryptoError::Malformed),
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// 256 bits of randomness, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Hex HMAC-SHA256, as Zoom signs webhooks and `plainToken` validations.
pub fn hmac_hex(secret: &str, message: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

pub fn sha256_hex(data: &[u8]) -> String {
    // Encoded into a stack buffer: `hex::encode` builds the String a char
    // at a time, which on every API key check cost more than the hash's
    // own padding (callgrind, issue 20).
    let mut out = [0u8; 64];
    hex::encode_to_slice(sha256(data), &mut out).expect("32 bytes fill 64 hex digits");
    std::str::from_utf8(&out)
        .expect("hex digits are ASCII")
        .to_owned()
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_the_fips_180_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    #[test]
    fn seals_and_opens_with_a_fresh_nonce_each_time() {
        let k = ring(&Keyring::generate_key_b64());
        let aad = Aad::new(SealedColumn::CONNECTION_ACCESS_TOKEN, "row-1");
        let a = k.seal_str(aad, "secret");
        let b = k.seal_str(aad, "secret");
        assert_ne!(a, b);
        assert!(a.starts_with("tbx1.default."));
        assert_eq!(k.open_string(aad, &a).unwrap(), "secret");
    }

    #[test]
    fn ciphertext_moved_to_another_row_or_column_fails() {
        let k = ring(&Keyring::generate_key_b64());
        let sealed = k.seal_str(
            Aad::new(SealedColumn::CONNECTION_ACCESS_TOKEN, "row-1"),
            "s",
        );
        for aad in [
            Aad::new(SealedColumn::CONNECTION_ACCESS_TOKEN, "row-2"),
            Aad::new(SealedColumn::CONNECTION_REFRESH_TOKEN, "row-1"),
            Aad::new(SealedColumn::S2S_ACCESS_TOKEN, "row-1"),
        ] {
            assert_eq!(k.open(aad, &sealed), Err(CryptoError::Authentication));
        }
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_with_the_first() {
        let old = Keyring::generate_key_b64();
        let new = Keyring::generate_key_b64();
        let aad = Aad::new(SealedColumn::JWT_API_SECRET, "r");
        let before = ring(&format!("k0:{old}")).seal_str(aad, "v");
        let rotated = ring(&format!("k1:{new},k0:{old}"));
        assert_eq!(rotated.open_string(aad, &before).unwrap(), "v");
        assert!(!rotated.is_current(&before));
        let after = rotated.seal_str(aad, "v");
        assert_eq!(sealed_kid(&after), Some("k1"));
        assert!(rotated.is_current(&after));
        let only_new = ring(&format!("k1:{new}"));
        assert_eq!(
            only_new.open(aad, &before),
            Err(CryptoError::UnknownKid("k0".into()))
        );
    }

    #[test]
    fn rejects_bad_key_specs() {
        assert!(matches!(Keyring::parse(" "), Err(KeyringError::Empty)));
        assert!(matches!(
            Keyring::parse("abc"),
            Err(KeyringError::BadKey(_))
        ));
        let k = Keyring::generate_key_b64();
        assert!(matches!(
            Keyring::parse(&format!("bad kid:{k}")),
            Err(KeyringError::BadKid(_))
        ));
        assert!(matches!(
            Keyring::parse(&format!("a:{k},a:{k}")),
            Err(KeyringError::DuplicateKid(_))
        ));
    }

    #[test]
    fn tampered_or_malformed_values_fail() {
        let k = ring(&Keyring::generate_key_b64());
        let aad = Aad::new(SealedColumn::JWT_API_SECRET, "r");
        let sealed = k.seal_str(aad, "secret value");
        // Flip one bit in each byte of nonce, ciphertext and tag in turn (not a
        // base64 character, which may only break padding): every one fails
        // authentication, so no change to a stored value goes unnoticed.
        let (prefix, b64) = sealed.rsplit_once('.').unwrap();
        let blob = URL_SAFE_NO_PAD.decode(b64).unwrap();
        for i in 0..blob.len() {
            let mut bytes = blob.clone();
            bytes[i] ^= 0x01;
            let tampered = format!("{prefix}.{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert_eq!(
                k.open(aad, &tampered),
                Err(CryptoError::Authentication),
                "byte {i}"
            );
        }
        assert_eq!(k.open(aad, &sealed).unwrap(), b"secret value");
        assert_eq!(k.open(aad, "plain"), Err(CryptoError::Malformed));
        assert_eq!(
            k.open(aad, "tbx1.default.AAAA"),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn constant_time_eq_handles_lengths() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}

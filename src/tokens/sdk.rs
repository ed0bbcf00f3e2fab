//! Meeting SDK signatures in Zoom's "SDK JWT Auth" format: HS256 over
//! `appKey`, `sdkKey`, `mn`, `role`, `iat`, `exp`, `tokenExp`, signed with
//! the org's SDK secret.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::TokenError;

/// Zoom's sample backdates `iat` by 30 s so that a client whose clock is a
/// little behind does not see a token from the future; we do the same.
pub const SDK_CLOCK_SKEW_SECS: i64 = 30;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Claims<'a> {
    app_key: &'a str,
    sdk_key: &'a str,
    /// The meeting or webinar number, as its digits.
    mn: &'a str,
    role: u8,
    iat: i64,
    exp: i64,
    token_exp: i64,
}

/// A signed SDK JWT and its `exp` (unix seconds).
pub fn sdk_signature(
    sdk_key: &str,
    sdk_secret: &str,
    meeting_number: &str,
    role: u8,
    now: i64,
    lifetime_secs: i64,
) -> Result<(String, i64), TokenError> {
    let iat = now - SDK_CLOCK_SKEW_SECS;
    let exp = iat + lifetime_secs;
    let claims = Claims {
        app_key: sdk_key,
        sdk_key,
        mn: meeting_number,
        role,
        iat,
        exp,
        token_exp: exp,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(sdk_secret.as_bytes()),
    )
    .map_err(|e| TokenError::Internal(e.to_string()))?;
    Ok((token, exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed once on this machine with python3's `hmac`, `hashlib` and
    /// `base64` (not with our code), for key `abcSDKkey`, secret
    /// `sdk-secret-xyz`, meeting 85746065432, role 1, iat 1700000000,
    /// exp = tokenExp = 1700007200, compact JSON in the order written here.
    const KNOWN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhcHBLZXkiOiJhYmNTREtrZXkiLCJzZGtLZXkiOiJhYmNTREtrZXkiLCJtbiI6Ijg1NzQ2MDY1NDMyIiwicm9sZSI6MSwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDcyMDAsInRva2VuRXhwIjoxNzAwMDA3MjAwfQ.lKL3eRlz8sjTN1HlnT-TMPqivYPpOurnZT6ANZRgVI8";

    #[test]
    fn matches_an_independently_computed_token() {
        let now = 1_700_000_000 + SDK_CLOCK_SKEW_SECS;
        let (token, exp) =
            sdk_signature("abcSDKkey", "sdk-secret-xyz", "85746065432", 1, now, 7200).unwrap();
        assert_eq!(exp, 1_700_007_200);
        assert_eq!(token, KNOWN);
    }

    #[test]
    fn another_secret_gives_another_signature() {
        let now = 1_700_000_000 + SDK_CLOCK_SKEW_SECS;
        let (token, _) = sdk_signature("abcSDKkey", "other", "85746065432", 1, now, 7200).unwrap();
        assert_ne!(token, KNOWN);
        assert_eq!(
            token.rsplit_once('.').unwrap().0,
            KNOWN.rsplit_once('.').unwrap().0
        );
    }
}

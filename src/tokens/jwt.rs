//! The legacy JWT fallback: HS256, `iss` = API key, `exp` at most an hour
//! ahead and never past the cutoff.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::TokenError;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    exp: i64,
}

/// Signs a legacy JWT, or refuses once `cutoff` has passed. Returns the token and its `exp`.
pub fn legacy_jwt(
    api_key: &str,
    api_secret: &str,
    now: i64,
    cutoff: i64,
) -> Result<(String, i64), TokenError> {
    if now >= cutoff {
        return Err(TokenError::JwtCutoffPassed(cutoff));
    }
    let exp = (now + 3600).min(cutoff);
    let token = encode(
        &Header::new(Algorithm::HS256),
        &Claims { iss: api_key, exp },
        &EncodingKey::from_secret(api_secret.as_bytes()),
    )
    .map_err(|e| TokenError::Internal(e.to_string()))?;
    Ok((token, exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, DecodingKey, Validation};

    #[derive(serde::Deserialize)]
    struct Decoded {
        iss: String,
        exp: i64,
    }

    #[test]
    fn signs_hs256_with_capped_expiry() {
        let now = 1_700_000_000;
        let (token, exp) = legacy_jwt("key", "secret", now, now + 600).unwrap();
        assert_eq!(exp, now + 600);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data =
            decode::<Decoded>(&token, &DecodingKey::from_secret(b"secret"), &validation).unwrap();
        assert_eq!(data.claims.iss, "key");
        assert_eq!(data.claims.exp, now + 600);
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));
        let (_, exp) = legacy_jwt("key", "secret", now, now + 86_400).unwrap();
        assert_eq!(exp, now + 3600);
    }

    #[test]
    fn refuses_after_cutoff() {
        let err = legacy_jwt("key", "secret", 100, 100).unwrap_err();
        assert!(matches!(err, TokenError::JwtCutoffPassed(_)));
    }
}

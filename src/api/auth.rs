//! API keys: `tb_<16 hex id>_<43 base64url secret>`. The secret carries 256
//! bits; only its SHA-256 is stored and it is compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::{AppState, LOOKUP_CACHE_TTL};
use crate::crypto::{ct_eq, random_bytes, random_token, sha256_hex};
use crate::domain::OrgSlug;
use crate::error::ApiError;
use crate::store::{ApiKey, Org};

const PREFIX: &str = "tb";

/// A freshly minted key: the row to store and the plaintext to show once.
pub fn new_api_key(org_id: Option<String>, label: Option<String>, now: i64) -> (ApiKey, String) {
    let id = hex::encode(random_bytes::<8>());
    let secret = random_token();
    let row = ApiKey {
        id: id.clone(),
        org_id,
        secret_hash: sha256_hex(secret.as_bytes()),
        label,
        created_at: now,
    };
    (row, format!("{PREFIX}_{id}_{secret}"))
}

/// The authenticated caller of the internal API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    /// `None`: an all-orgs key.
    pub org_scope: Option<String>,
}

impl Caller {
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.key_id)
    }

    /// Resolves an org the key may act on. Another org's slug answers 404,
    /// exactly as a missing org does, so keys cannot probe for tenants.
    pub async fn org(&self, app: &AppState, slug: &str) -> Result<Org, ApiError> {
        let not_found = || ApiError::NotFound(format!("org {slug:?} not found"));
        let slug = OrgSlug::parse(slug).map_err(|_| not_found())?;
        let org = app
            .caches
            .orgs
            .get_or_load(slug.to_string(), LOOKUP_CACHE_TTL, || {
                app.store.org_by_slug(slug.as_str())
            })
            .await?
            .ok_or_else(not_found)?;
        match &self.org_scope {
            Some(scope) if scope != &org.id => Err(not_found()),
            _ => Ok(org),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let presented = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(ApiError::Unauthorized)?
            .trim();
        let mut parts_iter = presented.splitn(3, '_');
        let (Some(PREFIX), Some(id), Some(secret)) =
            (parts_iter.next(), parts_iter.next(), parts_iter.next())
        else {
            return Err(ApiError::Unauthorized);
        };
        if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Unauthorized);
        }
        let key = app
            .caches
            .api_keys
            .get_or_load(id.to_string(), LOOKUP_CACHE_TTL, || app.store.api_key(id))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if !ct_eq(
            sha256_hex(secret.as_bytes()).as_bytes(),
            key.secret_hash.as_bytes(),
        ) {
            return Err(ApiError::Unauthorized);
        }
        tracing::Span::current().record("api_key", id);
        Ok(Caller {
            key_id: key.id,
            org_scope: key.org_id,
        })
    }
}

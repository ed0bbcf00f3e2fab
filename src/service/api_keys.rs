//! API keys: `tb_<16 hex id>_<43 base64url secret>`. The secret carries 256
//! bits; only its SHA-256 is stored and it is compared in constant time.

use std::sync::Arc;

use crate::app::{record_audit, AppState};
use crate::crypto::{random_bytes, random_token, sha256_hex};
use crate::domain::{Actor, AuditAction, AuditOutcome, Label, Scope};
use crate::invalidation::Invalidation;
use crate::service::invalidation::key_cache_ttl;
use crate::store::{ApiKey, CachedApiKey, DynStore, NewAuditEvent, Org};

use super::{ServiceError, ServiceResult};

const PREFIX: &str = "tb";

/// The longest expiry a key may be given: ten years.
pub const MAX_EXPIRY_SECS: i64 = 10 * 366 * 86_400;

/// What a new key may do and until when.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub label: Option<Label>,
    /// Empty: every scope.
    pub scopes: Vec<Scope>,
    /// Seconds from now; `None`: never expires.
    pub expires_in_secs: Option<i64>,
}

impl KeySpec {
    pub fn label(label: Option<Label>) -> Self {
        Self {
            label,
            scopes: Vec::new(),
            expires_in_secs: None,
        }
    }
}

/// A key's id: 16 hex digits, the part after `tb_`.
fn is_key_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A key's scopes, as stored.
pub fn scopes_of(key: &ApiKey) -> Vec<Scope> {
    Scope::split(&key.scopes)
}

/// A freshly minted key with every scope: the row to store and the plaintext to show once.
pub fn new_api_key(org_id: Option<String>, label: Option<String>, now: i64) -> (ApiKey, String) {
    let id = hex::encode(random_bytes::<8>());
    let secret = random_token();
    let row = ApiKey {
        id: id.clone(),
        org_id,
        secret_hash: sha256_hex(secret.as_bytes()),
        label,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        scopes: Scope::join(Scope::ALL),
        expires_at: None,
    };
    (row, format!("{PREFIX}_{id}_{secret}"))
}

/// Creates a key limited to `org`, or for every org when `org` is `None`.
/// Returns the stored row and the plaintext key, which is never stored.
pub async fn create(
    store: &DynStore,
    org: Option<&Org>,
    spec: KeySpec,
    actor: &Actor,
    now: i64,
) -> ServiceResult<(ApiKey, String)> {
    let label = spec.label.map(Label::into_inner);
    let expires_at = match spec.expires_in_secs {
        None => None,
        Some(secs) if (60..=MAX_EXPIRY_SECS).contains(&secs) => Some(now + secs),
        Some(_) => {
            return Err(ServiceError::invalid(
                "invalid_expiry",
                format!("an expiry is between 60 seconds and {MAX_EXPIRY_SECS} seconds away"),
            ))
        }
    };
    let (mut row, key) = new_api_key(org.map(|o| o.id.clone()), label, now);
    if !spec.scopes.is_empty() {
        row.scopes = Scope::join(&spec.scopes);
    }
    row.expires_at = expires_at;
    store.insert_api_key(&row).await?;
    let scope = org
        .map(|o| format!("org {}", o.slug))
        .unwrap_or_else(|| "all orgs".into());
    record_audit(
        store.as_ref(),
        NewAuditEvent {
            org_id: row.org_id.clone(),
            actor: actor.to_string(),
            action: AuditAction::ApiKeyCreated,
            outcome: AuditOutcome::Success,
            detail: format!("key {} for {scope}, scopes {}", row.id, row.scopes),
            created_at: now,
        },
    )
    .await;
    Ok((row, key))
}

/// Every key, or one org's keys; never a secret (only its hash is stored anyway).
pub async fn list(store: &DynStore, org: Option<&Org>) -> ServiceResult<Vec<ApiKey>> {
    Ok(store.list_api_keys(org.map(|o| o.id.as_str())).await?)
}

/// Revokes a key: it answers 401 from then on (this process at once; other
/// replicas through `NOTIFY` on PostgreSQL, or within their fallback key
/// cache TTL of 1 s while their listener is down).
pub async fn revoke(
    store: &DynStore,
    app: Option<&AppState>,
    id: &str,
    actor: &Actor,
    now: i64,
) -> ServiceResult<ApiKey> {
    // Anything else (a NUL PostgreSQL could not even compare) names no key.
    if !is_key_id(id) {
        return Err(ServiceError::NotFound(format!("API key {id:?} not found")));
    }
    let key = store
        .api_key(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("API key {id:?} not found")))?;
    let changed = store.revoke_api_key(id, now).await?;
    let what = Invalidation::ApiKey(key.id.clone());
    match app {
        Some(app) => app.invalidate(what),
        // The CLI: no caches of its own, but the servers' must hear of it.
        None => {
            if let Err(err) = store.notify_invalidation(&what.encode()).await {
                tracing::warn!(%err, "could not notify the servers of the revocation");
            }
        }
    }
    record_audit(
        store.as_ref(),
        NewAuditEvent {
            org_id: key.org_id.clone(),
            actor: actor.to_string(),
            action: AuditAction::ApiKeyRevoked,
            outcome: if changed {
                AuditOutcome::Success
            } else {
                AuditOutcome::Noop
            },
            detail: format!("key {}", key.id),
            created_at: now,
        },
    )
    .await;
    Ok(key)
}

/// Checks a presented `tb_<id>_<secret>` key. Unknown, malformed, wrong and
/// revoked keys are all the same `Unauthenticated`.
pub async fn authenticate(app: &AppState, presented: &str) -> ServiceResult<Arc<CachedApiKey>> {
    let mut parts = presented.trim().splitn(3, '_');
    let (Some(PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ServiceError::Unauthenticated);
    };
    if !is_key_id(id) {
        return Err(ServiceError::Unauthenticated);
    }
    let key = match app.caches.api_keys.get(id) {
        Some(hit) => hit,
        None => load_key(app, id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?,
    };
    if !key.secret_matches(secret) || key.revoked {
        return Err(ServiceError::Unauthenticated);
    }
    let now = app.clock.now();
    if let Some(at) = key.expires_at.filter(|at| *at <= now) {
        return Err(ServiceError::KeyExpired(at));
    }
    if key.first_use_within(now) {
        app.caches.api_key_usage.note(&key.id, now);
    }
    Ok(key)
}

/// Callers presenting one uncached key together (a storm after a restart)
/// share one read of its row; each still checks its own secret. A
/// revocation heard while loading is neither joined nor cached over.
async fn load_key(app: &AppState, id: &str) -> ServiceResult<Option<Arc<CachedApiKey>>> {
    let generation = app.invalidator.generation();
    let (owned, id) = (app.clone(), id.to_string());
    let flight = format!("{id}\0{generation}");
    let row = app
        .caches
        .key_loads
        .run(&flight, move || async move {
            let Some(row) = owned.store.api_key(&id).await? else {
                return Ok(None);
            };
            let key = Arc::new(CachedApiKey::from_row(&row));
            if owned.invalidator.generation() == generation {
                let ttl = key_cache_ttl(&owned);
                owned.caches.api_keys.insert(id, key.clone(), ttl);
            }
            Ok(Some(key))
        })
        .await?;
    Ok(row)
}

/// Refuses a key that lacks `scope`, naming what it has.
pub fn require(key_scopes: &[Scope], scope: Scope) -> ServiceResult<()> {
    if key_scopes.contains(&scope) {
        return Ok(());
    }
    Err(ServiceError::InsufficientScope(format!(
        "this API key lacks the {scope} scope (it has: {})",
        Scope::join(key_scopes)
    )))
}

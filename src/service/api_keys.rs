//! API keys: `tb_<16 hex id>_<43 base64url secret>`. The secret carries 256
//! bits; only its SHA-256 is stored and it is compared in constant time.

use crate::app::{record_audit, AppState, LOOKUP_CACHE_TTL};
use crate::crypto::{ct_eq, random_bytes, random_token, sha256_hex};
use crate::domain::{Actor, AuditAction, AuditOutcome};
use crate::store::{ApiKey, DynStore, NewAuditEvent, Org};

use super::{ServiceError, ServiceResult};

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
        last_used_at: None,
        revoked_at: None,
    };
    (row, format!("{PREFIX}_{id}_{secret}"))
}

/// Creates a key limited to `org`, or for every org when `org` is `None`.
/// Returns the stored row and the plaintext key, which is never stored.
pub async fn create(
    store: &DynStore,
    org: Option<&Org>,
    label: Option<String>,
    actor: &Actor,
    now: i64,
) -> ServiceResult<(ApiKey, String)> {
    let label = label
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.len() > 200) {
        return Err(ServiceError::invalid(
            "invalid_label",
            "a label is at most 200 characters",
        ));
    }
    let (row, key) = new_api_key(org.map(|o| o.id.clone()), label, now);
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
            detail: format!("key {} for {scope}", row.id),
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
/// replicas when their key cache expires).
pub async fn revoke(
    store: &DynStore,
    app: Option<&AppState>,
    id: &str,
    actor: &Actor,
    now: i64,
) -> ServiceResult<ApiKey> {
    let key = store
        .api_key(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("API key {id:?} not found")))?;
    let changed = store.revoke_api_key(id, now).await?;
    if let Some(app) = app {
        app.caches.api_keys.remove_where(|k| k == &key.id);
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
pub async fn authenticate(app: &AppState, presented: &str) -> ServiceResult<ApiKey> {
    let mut parts = presented.trim().splitn(3, '_');
    let (Some(PREFIX), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ServiceError::Unauthenticated);
    };
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServiceError::Unauthenticated);
    }
    let key = app
        .caches
        .api_keys
        .get_or_load(id.to_string(), LOOKUP_CACHE_TTL, || app.store.api_key(id))
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    let secret_ok = ct_eq(
        sha256_hex(secret.as_bytes()).as_bytes(),
        key.secret_hash.as_bytes(),
    );
    if !secret_ok || key.revoked_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(key)
}

//! Orgs (tenants): created by operators, never renamed or deleted.

use std::sync::Arc;

use crate::app::{AppState, LOOKUP_CACHE_TTL};
use crate::domain::OrgSlug;
use crate::store::{DynStore, Org, StoreError};

use super::{ServiceError, ServiceResult};

pub async fn create(
    store: &DynStore,
    slug: &OrgSlug,
    name: Option<&str>,
    now: i64,
) -> ServiceResult<Org> {
    let org = Org {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_string(),
        name: name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(slug.as_str())
            .to_string(),
        created_at: now,
    };
    store.insert_org(&org).await.map_err(|e| match e {
        StoreError::Conflict(_) => ServiceError::Conflict {
            code: "org_exists",
            message: format!("org {slug:?} already exists"),
        },
        other => other.into(),
    })?;
    Ok(org)
}

pub async fn find(store: &DynStore, slug: &str) -> ServiceResult<Org> {
    store.org_by_slug(slug).await?.ok_or_else(|| {
        ServiceError::NotFound(format!(
            "org {slug:?} does not exist; create it with `tokenbroker org create {slug}`"
        ))
    })
}

pub async fn list(store: &DynStore) -> ServiceResult<Vec<Org>> {
    Ok(store.list_orgs().await?)
}

/// The org named `slug`, if a caller limited to `scope` (`None`: every org)
/// may act on it. Another org's slug answers exactly as a missing org does,
/// so a key cannot probe for tenants.
pub async fn visible(app: &AppState, scope: Option<&str>, slug: &str) -> ServiceResult<Arc<Org>> {
    let not_found = || ServiceError::NotFound(format!("org {slug:?} not found"));
    if !OrgSlug::is_valid(slug) {
        return Err(not_found());
    }
    let org = match app.caches.orgs.get(slug) {
        Some(hit) => hit,
        None => {
            let slug = OrgSlug::parse(slug).map_err(|_| not_found())?;
            load_org(app, slug).await?.ok_or_else(not_found)?
        }
    };
    match scope {
        Some(scope) if scope != org.id => Err(not_found()),
        _ => Ok(org),
    }
}

/// Callers naming one uncached org together share one read of it. Orgs are
/// never renamed or deleted, so no invalidation can overtake the read.
async fn load_org(app: &AppState, slug: OrgSlug) -> ServiceResult<Option<Arc<Org>>> {
    let owned = app.clone();
    let key = slug.to_string();
    let org = app
        .caches
        .org_loads
        .run(&key, move || async move {
            let Some(org) = owned.store.org_by_slug(slug.as_str()).await? else {
                return Ok(None);
            };
            let org = Arc::new(org);
            owned
                .caches
                .orgs
                .insert(slug.to_string(), org.clone(), LOOKUP_CACHE_TTL);
            Ok(Some(org))
        })
        .await?;
    Ok(org)
}

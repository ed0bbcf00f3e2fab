//! The `Caller` extractor: who is calling the internal API, checked by
//! `service::api_keys` (constant-time, hashed, revocable).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::domain::{Actor, Scope};
use crate::error::ApiError;
use crate::service::{api_keys, orgs, ServiceError};
use crate::store::{CachedApiKey, Org};

/// The authenticated caller of the internal API: its key as cached (shared,
/// not copied, on every call).
#[derive(Debug, Clone)]
pub struct Caller {
    key: Arc<CachedApiKey>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.key.id.clone())
    }

    /// `None`: an all-orgs key.
    pub fn org_scope(&self) -> Option<&str> {
        self.key.org_id.as_deref()
    }

    /// Resolves an org the key may act on; another org's slug is a 404.
    pub async fn org(&self, app: &AppState, slug: &str) -> Result<Arc<Org>, ApiError> {
        Ok(orgs::visible(app, self.org_scope(), slug).await?)
    }

    /// Refuses the call with `403 insufficient_scope` unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        Ok(api_keys::require(&self.key.scopes, scope)?)
    }

    /// As `require`, for a call any one of `scopes` allows.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.key.scopes.contains(s)) {
            Some(_) => Ok(()),
            None => self.require(scopes[0]),
        }
    }

    /// Operator-wide calls need a key that is not limited to one org.
    pub fn require_all_orgs(&self, what: &str) -> Result<(), ApiError> {
        match self.key.org_id {
            None => Ok(()),
            Some(_) => Err(ApiError::Forbidden(format!(
                "{what} needs an all-orgs API key"
            ))),
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
            .ok_or(ApiError::Unauthorized)?;
        let key = api_keys::authenticate(app, presented)
            .await
            .map_err(|e| match e {
                ServiceError::Unauthenticated => ApiError::Unauthorized,
                other => other.into(),
            })?;
        tracing::Span::current().record("api_key", key.id.as_str());
        Ok(Caller { key })
    }
}

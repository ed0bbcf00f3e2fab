//! The `Caller` extractor: who is calling the internal API, checked by
//! `service::api_keys` (constant-time, hashed, revocable).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::domain::{Actor, Scope};
use crate::error::ApiError;
use crate::service::{api_keys, orgs, ServiceError};
use crate::store::Org;

/// The authenticated caller of the internal API.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    /// `None`: an all-orgs key.
    pub org_scope: Option<String>,
    /// What the key may do; each handler states the scope it needs.
    pub scopes: Vec<Scope>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.key_id.clone())
    }

    /// Resolves an org the key may act on; another org's slug is a 404.
    pub async fn org(&self, app: &AppState, slug: &str) -> Result<Org, ApiError> {
        Ok(orgs::visible(app, self.org_scope.as_deref(), slug).await?)
    }

    /// Refuses the call with `403 insufficient_scope` unless the key has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        Ok(api_keys::require(&self.scopes, scope)?)
    }

    /// As `require`, for a call any one of `scopes` allows.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.scopes.contains(s)) {
            Some(_) => Ok(()),
            None => self.require(scopes[0]),
        }
    }

    /// Operator-wide calls need a key that is not limited to one org.
    pub fn require_all_orgs(&self, what: &str) -> Result<(), ApiError> {
        match self.org_scope {
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
        Ok(Caller {
            scopes: api_keys::scopes_of(&key),
            key_id: key.id,
            org_scope: key.org_id,
        })
    }
}

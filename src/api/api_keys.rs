//! `/api/v1/api-keys`: create, list and revoke API keys. Operator calls:
//! an all-orgs key with the `admin` scope.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, Label, Scope};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::service::api_keys::{self, KeySpec};
use crate::service::orgs;
use crate::store::ApiKey;
use crate::web::{invalid, ApiJson, ApiPath, ApiQuery};

use super::responses::{Always, BodyErrors};
use super::Caller;

#[derive(Deserialize, ToSchema)]
#[schema(as = NewApiKey)]
pub struct NewKey {
    /// The org the key is limited to; absent or null: every org.
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    #[schema(schema_with = Label::schema)]
    label: Option<String>,
    /// What the key may do; absent: every scope.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Scope>>, min_items = 1)]
    scopes: Option<Vec<String>>,
    /// Seconds until the key stops working (60 to about ten years); absent: never.
    #[serde(default)]
    /// (Read as a number, so that `600.0`, an integer to JSON Schema, is accepted.)
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 316_224_000)]
    expires_in_secs: Option<f64>,
}

/// An API key as listed: never its secret.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiKey)]
pub struct KeyView {
    id: String,
    /// The org's slug; null for an all-orgs key.
    org: Option<String>,
    label: Option<String>,
    scopes: Vec<Scope>,
    #[schema(format = DateTime)]
    created_at: String,
    /// Recorded in batches, so up to a few seconds late.
    #[schema(format = DateTime)]
    last_used_at: Option<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
}

impl KeyView {
    fn new(key: ApiKey, slugs: &HashMap<String, String>) -> Self {
        Self {
            scopes: api_keys::scopes_of(&key),
            org: key.org_id.map(|id| slugs.get(&id).cloned().unwrap_or(id)),
            id: key.id,
            label: key.label,
            created_at: rfc3339(key.created_at),
            last_used_at: key.last_used_at.map(rfc3339),
            expires_at: key.expires_at.map(rfc3339),
            revoked_at: key.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = CreatedApiKey)]
pub struct CreatedKey {
    #[serde(flatten)]
    view: KeyView,
    /// The key itself, `tb_<id>_<secret>`: shown this once, never stored.
    key: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ApiKeyList)]
pub struct KeyList {
    api_keys: Vec<KeyView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only the keys limited to this org (by slug).
    org: Option<String>,
}

fn operator(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Scope::Admin)?;
    caller.require_all_orgs("managing API keys")
}

async fn slugs(app: &AppState) -> ApiResult<HashMap<String, String>> {
    let all = orgs::list(&app.store).await?;
    Ok(all.into_iter().map(|o| (o.id, o.slug)).collect())
}

/// Create an API key
///
/// The key is in the answer once and never again. Needs an all-orgs key
/// with the `admin` scope. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    operation_id = "create_api_key",
    tag = "api-keys",
    request_body = NewKey,
    responses(
        (status = 201, description = "Created; `key` is shown only now.", body = CreatedKey),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_scopes`, \
            `invalid_label` or `invalid_expiry`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org."),
        Always,
        BodyErrors,
    )
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    operator(&caller)?;
    // Every field is optional, so serde would also take a JSON array; only an object is a body.
    let body: NewKey = serde_json::from_value(serde_json::Value::Object(body))
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let org = match body.org.as_deref() {
        Some(slug) => Some(caller.org(&app, slug).await?),
        None => None,
    };
    let scopes = match body.scopes {
        None => Vec::new(),
        Some(list) => Scope::parse_list(&list.join(",")).map_err(invalid("invalid_scopes"))?,
    };
    let label = body.label.as_deref().map(Label::parse).transpose();
    let label = label.map_err(invalid("invalid_label"))?.flatten();
    let spec = KeySpec {
        label,
        scopes,
        // A fraction or an out-of-range number becomes 0 here: `invalid_expiry`.
        expires_in_secs: body.expires_in_secs.map(|s| {
            if s.fract() == 0.0 && s.abs() < 1e15 {
                s as i64
            } else {
                0
            }
        }),
    };
    let now = app.clock.now();
    let (row, key) =
        api_keys::create(&app.store, org.as_deref(), spec, &caller.actor(), now).await?;
    let view = KeyView::new(row, &slugs(&app).await?);
    Ok((StatusCode::CREATED, Json(CreatedKey { view, key })))
}

/// List API keys
///
/// Every key, or one org's; never a secret. Needs an all-orgs key with the
/// `admin` scope.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "list_api_keys",
    tag = "api-keys",
    params(ListParams),
    responses(
        (status = 200, description = "The keys, oldest first.", body = KeyList),
        (status = 400, body = ErrorBody, description = "`invalid_query`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org."),
        Always,
    )
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<KeyList>> {
    operator(&caller)?;
    let org = match params.org.as_deref() {
        Some(slug) => Some(caller.org(&app, slug).await?),
        None => None,
    };
    let slugs = slugs(&app).await?;
    let keys = api_keys::list(&app.store, org.as_deref()).await?;
    Ok(Json(KeyList {
        api_keys: keys.into_iter().map(|k| KeyView::new(k, &slugs)).collect(),
    }))
}

/// Revoke an API key
///
/// From the answer on, the key gets 401 on this replica, and on every other
/// within 2 s (at once on PostgreSQL through `NOTIFY`). Revoking a revoked
/// key changes nothing and answers the same. Needs an all-orgs key with the
/// `admin` scope. Audited.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(("id" = String, Path, description = "The key's id (the hex part after `tb_`).")),
    responses(
        (status = 200, description = "Revoked.", body = KeyView),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such key."),
        Always,
    )
)]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<KeyView>> {
    operator(&caller)?;
    let now = app.clock.now();
    let mut key = api_keys::revoke(&app.store, Some(&app), &id, &caller.actor(), now).await?;
    key.revoked_at.get_or_insert(now);
    Ok(Json(KeyView::new(key, &slugs(&app).await?)))
}

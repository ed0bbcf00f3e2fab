//! `POST /api/v1/connect-sessions`: a one-time link that starts Zoom authorization.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::{rfc3339, AppType, Email, ReturnTo};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::service::connect::{self, NewConnectSession};
use crate::web::{invalid, ApiJson};
use crate::zoom::scopes::ProductName;

use super::responses::{Always, BodyErrors};
use super::Caller;
use crate::domain::Scope;

#[derive(Deserialize, ToSchema)]
#[schema(as = NewConnectSession)]
pub struct NewSession {
    /// The org's slug.
    org: String,
    /// The CRM user's email; the Zoom user who authorizes must have the same.
    #[schema(value_type = Email)]
    email: String,
    #[schema(value_type = AppType)]
    app_type: String,
    /// Where the browser goes afterwards, with `?status=…`. It must be on an
    /// origin listed in `TOKENBROKER_RETURN_ORIGINS`; blank means none.
    #[serde(default)]
    return_to: Option<String>,
    #[serde(default)]
    #[schema(schema_with = products_schema)]
    products: Option<Vec<String>>,
}

/// The served document (`openapi::served`) narrows the items to this
/// deployment's `ZOOM_PRODUCTS` with an `enum`; this is what every
/// deployment shares.
fn products_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(PRODUCT_NAME_PATTERN)),
        )
        .max_items(Some(MAX_PRODUCTS))
        .description(Some(
            "Products to offer ticked on the connect page; the user may change the \
             choice there. Absent or empty: all ticked. Each must be a name in this \
             deployment's `ZOOM_PRODUCTS` (the served document lists them as the \
             items' `enum`); another is `400 unknown_product`; more than 50 names \
             is `400 invalid_products`.",
        ))
        .build()
}

/// The most product names one session may carry (`400 invalid_products` beyond).
pub const MAX_PRODUCTS: usize = 50;

/// What `ProductName::parse` accepts, untrimmed: the API takes names exactly.
pub const PRODUCT_NAME_PATTERN: &str = "^[a-z0-9_-]{1,40}$";

#[derive(Serialize, ToSchema)]
#[schema(as = ConnectSession)]
pub struct CreatedSession {
    id: String,
    /// Send the user's browser here. It works once.
    #[schema(format = Uri)]
    url: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Create a one-time connect session
///
/// Returns a link for the user's browser. The link works once and expires
/// after 10 minutes. The result arrives at `return_to` as
/// `?status=connected&connection_id=…`, `cancelled`, `email_mismatch`,
/// `not_admin`, `account_mismatch`, `missing_scopes` or `error`. `app_type` `user` is a user-managed app (one
/// connection per Zoom user); `account` an admin-managed app, installed by a
/// Zoom Owner or Admin for the whole org.
#[utoipa::path(
    post,
    path = "/api/v1/connect-sessions",
    operation_id = "create_connect_session",
    tag = "authorize",
    request_body = NewSession,
    responses(
        (status = 201, description = "Created.", body = CreatedSession),
        (status = 400, body = ErrorBody, description = "`invalid_body`, `invalid_email`, \
            `invalid_app_type`, `invalid_return_to` (not an http(s) URL on an allowed origin), \
            `unknown_product` (not in `ZOOM_PRODUCTS`), `invalid_products` (more than 50), \
            or `app_type_unavailable`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
        BodyErrors,
    )
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSession>,
) -> ApiResult<(StatusCode, Json<CreatedSession>)> {
    caller.require(Scope::Connect)?;
    let org = caller.org(&app, &body.org).await?;
    if body
        .products
        .as_ref()
        .is_some_and(|p| p.len() > MAX_PRODUCTS)
    {
        return Err(ApiError::bad_request(
            "invalid_products",
            format!("products lists at most {MAX_PRODUCTS} names"),
        ));
    }
    let new = NewConnectSession {
        email: Email::parse(&body.email).map_err(invalid("invalid_email"))?,
        app_type: body
            .app_type
            .parse::<AppType>()
            .map_err(invalid("invalid_app_type"))?,
        return_to: body
            .return_to
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|raw| ReturnTo::parse(raw, &app.config.return_origins))
            .transpose()
            .map_err(invalid("invalid_return_to"))?,
        products: body
            .products
            .unwrap_or_default()
            .iter()
            .map(|name| exact_product_name(name))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::bad_request("unknown_product", e))?,
    };
    let session = connect::create_session(&app, &org, new, &caller.actor()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSession {
            id: session.id,
            url: session.url,
            expires_at: rfc3339(session.expires_at),
        }),
    ))
}

/// A product name as sent, with no trimming, so the handler accepts exactly
/// what `PRODUCT_NAME_PATTERN` does.
fn exact_product_name(raw: &str) -> Result<ProductName, String> {
    match ProductName::parse(raw) {
        Ok(name) if name.as_str() == raw => Ok(name),
        Ok(_) => Err(format!("{raw:?} has spaces around the product name")),
        Err(e) => Err(e),
    }
}

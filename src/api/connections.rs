//! Connections of an org: list, show, disconnect.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;

use crate::app::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::service::connections;
use crate::service::paging::{self, ConnectionListParams};
use crate::web::views::{ConnectionPageView, ConnectionView};
use crate::web::{ApiPath, ApiQuery};

use super::responses::Always;
use super::Caller;
use crate::domain::Scope;

/// List the org's connections, a page at a time
///
/// Never a token. Pages come in a stable order, so a connection added while
/// paging is neither lost nor repeated; pass `next` as `after`, with the same
/// filters, for the next page. `updated_since` orders by change, for
/// incremental sync.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/connections",
    operation_id = "list_connections",
    tag = "connections",
    params(("org" = String, Path, description = "The org's slug."), ConnectionListParams),
    responses(
        (status = 200, description = "A page of connections.", body = ConnectionPageView),
        (status = 400, body = ErrorBody, description = "`invalid_limit`, `invalid_cursor`, \
            `invalid_status`, `invalid_app_type`, `invalid_email`, `invalid_email_prefix`, \
            `invalid_updated_since`, `invalid_query` or `invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org, or not visible to this key."),
        Always,
    )
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(org): ApiPath<String>,
    ApiQuery(params): ApiQuery<ConnectionListParams>,
) -> ApiResult<Json<ConnectionPageView>> {
    caller.require(Scope::TokensRead)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(
        paging::connections_page(&app, &org, &params).await?.into(),
    ))
}

/// Show one connection
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org}/connections/{id}",
    operation_id = "show_connection",
    tag = "connections",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("id" = String, Path, description = "The connection's id."),
    ),
    responses(
        (status = 200, description = "The connection.", body = ConnectionView),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org or connection."),
        Always,
    )
)]
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    caller.require(Scope::TokensRead)?;
    let org = caller.org(&app, &org).await?;
    Ok(Json(connections::get(&app, &org, &id).await?.into()))
}

/// Disconnect
///
/// Revokes the grant at Zoom (RFC 7009), then deletes the stored tokens. If
/// Zoom's revoke fails, the tokens are still deleted and the answer carries
/// a `Warning: 199 tokenbroker "…"` header.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{org}/connections/{id}",
    operation_id = "disconnect",
    tag = "connections",
    params(
        ("org" = String, Path, description = "The org's slug."),
        ("id" = String, Path, description = "The connection's id."),
    ),
    responses(
        (status = 204, description = "Deleted.",
            headers(("Warning" = String, description = "Present when revoking at Zoom failed."))),
        (status = 400, body = ErrorBody, description = "`invalid_path`."),
        (status = 404, body = ErrorBody, description = "`not_found`: no such org or connection."),
        Always,
    )
)]
pub async fn disconnect(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath((org, id)): ApiPath<(String, String)>,
) -> ApiResult<(StatusCode, HeaderMap)> {
    caller.require_any(&[Scope::Connect, Scope::Admin])?;
    let org = caller.org(&app, &org).await?;
    let warning = connections::disconnect(&app, &org, &id, &caller.actor()).await?;
    let mut headers = HeaderMap::new();
    if let Some(w) = warning {
        let value = format!("199 tokenbroker \"{}\"", w.replace('"', "'"));
        headers.insert(
            "warning",
            HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(
                "199 tokenbroker \"revoke at Zoom failed\"",
            )),
        );
    }
    Ok((StatusCode::NO_CONTENT, headers))
}

//! Connections of an org: list, show, disconnect.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::Json;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::connections;
use crate::service::paging::{self, ConnectionListParams};
use crate::web::views::{ConnectionPageView, ConnectionView};
use crate::web::ApiQuery;

use super::Caller;

/// One page of the org's connections; see `ConnectionListParams` for the
/// filters and the README for the sync contract.
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(params): ApiQuery<ConnectionListParams>,
) -> ApiResult<Json<ConnectionPageView>> {
    let org = caller.org(&app, &org).await?;
    Ok(Json(
        paging::connections_page(&app, &org, &params).await?.into(),
    ))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<ConnectionView>> {
    let org = caller.org(&app, &org).await?;
    Ok(Json(connections::get(&app, &org, &id).await?.into()))
}

/// A failed revoke at Zoom still deletes, and says so in a `Warning` header.
pub async fn disconnect(
    State(app): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<(StatusCode, HeaderMap)> {
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

//! `GET /api/v1/orgs/{org}/audit?after=&limit=` (or the older `before=`): the org's security audit log.

use axum::extract::{Path, State};
use axum::Json;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::service::audit;
use crate::web::views::{AuditPageView, AuditQuery};
use crate::web::ApiQuery;

use super::Caller;

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(page): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPageView>> {
    let org = caller.org(&app, &org).await?;
    let page = audit::page(&app, &org, page.from()?, page.limit.as_deref()).await?;
    Ok(Json(page.into()))
}

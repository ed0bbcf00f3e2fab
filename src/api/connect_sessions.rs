//! `POST /api/v1/connect-sessions`: a one-time link that starts Zoom authorization.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::{rfc3339, AppType, Email, ReturnTo};
use crate::error::ApiResult;
use crate::service::connect::{self, NewConnectSession};
use crate::web::{invalid, ApiJson};

use super::Caller;

#[derive(Deserialize)]
pub struct NewSession {
    org: String,
    email: String,
    app_type: String,
    #[serde(default)]
    return_to: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedSession {
    id: String,
    url: String,
    expires_at: String,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSession>,
) -> ApiResult<(StatusCode, Json<CreatedSession>)> {
    let org = caller.org(&app, &body.org).await?;
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

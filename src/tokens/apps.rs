//! Which Zoom OAuth app a grant uses: the deployment's, from the
//! environment, or the org's own (`org_oauth_apps`). One resolver, so the
//! authorize, exchange, refresh and revoke call sites never branch.

use crate::app::AppState;
use crate::crypto::{Aad, SealedColumn};
use crate::domain::AppType;
use crate::store::{OrgOauthApp, StoreResult};
use crate::zoom::AppCredentials;

/// The app a new connect session of `org_id` uses for `app_type`: the org's
/// own when it has one of that type, else the deployment's. `None` when
/// neither is configured.
pub async fn for_new_session(
    app: &AppState,
    org_id: &str,
    app_type: AppType,
) -> StoreResult<Option<Result<AppCredentials, String>>> {
    if let Some(own) = app.store.org_oauth_app(org_id).await? {
        if own.app_type == app_type {
            return Ok(Some(open(app, &own)));
        }
    }
    Ok(deployment(app, app_type).map(Ok))
}

/// The app an existing grant (a connection, or a pending authorization) was
/// made with. It keeps that app: an org's app that was removed since is an
/// error, and the grant must be authorized again.
pub async fn for_grant(
    app: &AppState,
    oauth_app_id: Option<&str>,
    app_type: AppType,
) -> Result<AppCredentials, String> {
    let Some(id) = oauth_app_id else {
        return deployment(app, app_type)
            .ok_or_else(|| format!("no Zoom app is configured for {app_type} connections"));
    };
    match app.store.org_oauth_app_by_id(id).await {
        Ok(Some(own)) => open(app, &own),
        Ok(None) => Err(
            "the org's own Zoom app this grant was made with was removed; authorize again".into(),
        ),
        Err(err) => Err(format!("the org's Zoom app could not be read: {err}")),
    }
}

fn deployment(app: &AppState, app_type: AppType) -> Option<AppCredentials> {
    let (client_id, client_secret) = app.config.zoom_app(app_type)?;
    Some(AppCredentials {
        oauth_app_id: None,
        client_id: client_id.to_string(),
        client_secret: client_secret.to_string(),
    })
}

fn open(app: &AppState, own: &OrgOauthApp) -> Result<AppCredentials, String> {
    let client_secret = app
        .keyring
        .open_string(
            Aad::new(SealedColumn::ORG_APP_CLIENT_SECRET, &own.id),
            &own.client_secret,
        )
        .map_err(|e| format!("the org's Zoom app secret could not be opened: {e}"))?;
    Ok(AppCredentials {
        oauth_app_id: Some(own.id.clone()),
        client_id: own.client_id.clone(),
        client_secret,
    })
}

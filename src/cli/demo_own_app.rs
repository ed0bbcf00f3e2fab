//! The demo's second org, `demo-own-app`, which brings its own Zoom OAuth
//! app (issue 11): the sandbox serves that app as a second client, with its
//! own secret, redirect URI and webhook secret token.

use crate::app::AppState;
use crate::config::Config;
use crate::domain::{Actor, AppType, Label, OrgSlug, Required};
use crate::sandbox::{ClientApp, SandboxState};
use crate::service::oauth_app::{self, NewOauthApp};
use crate::service::{api_keys, orgs};
use crate::store::Org;

use super::support::{now, CliError};

pub const OWN_APP_ORG: &str = "demo-own-app";
pub const OWN_APP_CLIENT_ID: &str = "demo-own-app-client-id";
pub const OWN_APP_CLIENT_SECRET: &str = "demo-own-app-client-secret";
pub const OWN_APP_WEBHOOK_SECRET: &str = "demo-own-app-webhook-secret";

/// The org's own app, as the customer registered it in (sandbox) Zoom.
pub fn register_in_sandbox(sandbox: &SandboxState, config: &Config) {
    sandbox.register_client(ClientApp {
        client_id: OWN_APP_CLIENT_ID.into(),
        client_secret: OWN_APP_CLIENT_SECRET.into(),
        redirect_uris: vec![config.redirect_uri()],
    });
    sandbox.set_client_webhook(
        OWN_APP_CLIENT_ID,
        &config.public_path(&format!("/webhooks/zoom/{OWN_APP_ORG}")),
        OWN_APP_WEBHOOK_SECRET,
    );
}

/// Creates the org (once), sets its own app, and returns it with a fresh API key.
pub async fn seed(app: &AppState) -> Result<(Org, String), CliError> {
    let org = match app.store.org_by_slug(OWN_APP_ORG).await? {
        Some(org) => org,
        None => {
            let slug = OrgSlug::parse(OWN_APP_ORG).map_err(|e| CliError::Failed(e.to_string()))?;
            orgs::create(
                &app.store,
                &slug,
                Some("Demo org with its own Zoom app"),
                now(),
            )
            .await?
        }
    };
    let field = |name: &str, value: &str| {
        Required::parse(name, value, 512).map_err(|e| CliError::Failed(e.to_string()))
    };
    let own = NewOauthApp {
        client_id: field("client_id", OWN_APP_CLIENT_ID)?,
        client_secret: field("client_secret", OWN_APP_CLIENT_SECRET)?,
        app_type: AppType::User,
        webhook_secret_token: Some(field("webhook_secret_token", OWN_APP_WEBHOOK_SECRET)?),
    };
    oauth_app::put(app, &org, &Actor::Cli, own).await?;
    let (_, key) = api_keys::create(
        &app.store,
        Some(&org),
        api_keys::KeySpec::label(Label::parse("demo").expect("a plain label")),
        &Actor::Cli,
        now(),
    )
    .await?;
    Ok((org, key))
}

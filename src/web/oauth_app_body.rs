//! The body that sets an org's own Zoom OAuth app, accepted by the internal
//! API and the admin console alike, and the view both show.

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

use crate::domain::{AppType, Required};
use crate::error::ApiError;
use crate::service::oauth_app::{NewOauthApp, OauthAppView};

use super::invalid;

const KEY_MAX: usize = 256;
const SECRET_MAX: usize = 512;

fn key_text() -> Object {
    Required::schema(KEY_MAX)
}

/// Write-only: never sent back.
fn secret_text() -> Object {
    let mut schema = Required::schema(SECRET_MAX);
    schema.write_only = Some(true);
    schema
}

/// The org's own Zoom OAuth app, as registered in Zoom's App Marketplace.
#[derive(Deserialize, ToSchema)]
#[schema(as = OauthApp)]
pub struct OauthAppBody {
    #[schema(schema_with = key_text)]
    client_id: String,
    #[schema(schema_with = secret_text)]
    client_secret: String,
    /// `user` (user-managed) or `account` (admin-managed): which connect
    /// sessions of the org it serves.
    app_type: AppType,
    /// The app's "Secret Token" for event notifications; without one, the
    /// org's webhook URL answers `409 webhooks_disabled`.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = secret_text, nullable = false)]
    webhook_secret_token: Option<String>,
}

/// Absent is "no token"; `null` is refused, as the schema says it is not nullable.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

impl OauthAppBody {
    pub fn parse(self) -> Result<NewOauthApp, ApiError> {
        let field = |name: &str, value: &str, max: usize| {
            Required::parse(name, value, max).map_err(invalid("invalid_field"))
        };
        Ok(NewOauthApp {
            client_id: field("client_id", &self.client_id, KEY_MAX)?,
            client_secret: field("client_secret", &self.client_secret, SECRET_MAX)?,
            app_type: self.app_type,
            webhook_secret_token: self
                .webhook_secret_token
                .as_deref()
                .map(|t| field("webhook_secret_token", t, SECRET_MAX))
                .transpose()?,
        })
    }
}

/// The org's own Zoom app, without its secrets.
#[derive(Serialize, ToSchema)]
#[schema(as = OauthAppInfo)]
pub struct OauthAppOut {
    pub client_id: String,
    pub app_type: AppType,
    /// Register this as the app's OAuth Redirect URL (and allow list).
    pub redirect_url: String,
    /// Register this as the app's event notification endpoint URL.
    pub webhook_url: String,
    /// True when a webhook secret token is stored (the token itself never is shown).
    pub webhook_secret_set: bool,
}

impl From<OauthAppView> for OauthAppOut {
    fn from(v: OauthAppView) -> Self {
        Self {
            client_id: v.client_id,
            app_type: v.app_type,
            redirect_url: v.redirect_url,
            webhook_url: v.webhook_url,
            webhook_secret_set: v.webhook_secret_set,
        }
    }
}

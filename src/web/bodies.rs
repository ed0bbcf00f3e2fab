//! Request bodies that more than one adapter accepts, parsed at the edge
//! into the domain types the services take. Their OpenAPI schemas come from
//! the same limits `parse` enforces.

use serde::Deserialize;
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

use crate::domain::{Email, Required};
use crate::error::ApiError;
use crate::service::credentials::{JwtKey, S2sApp};

use super::invalid;

const ID_MAX: usize = 128;
const KEY_MAX: usize = 256;
const SECRET_MAX: usize = 512;

fn id_text() -> Object {
    Required::schema(ID_MAX)
}

pub(super) fn key_text() -> Object {
    Required::schema(KEY_MAX)
}

/// Write-only: never sent back.
pub(super) fn secret_text() -> Object {
    let mut schema = Required::schema(SECRET_MAX);
    schema.write_only = Some(true);
    schema
}

/// A legacy JWT app's key and secret.
#[derive(Deserialize, ToSchema)]
#[schema(as = JwtCredentials)]
pub struct JwtBody {
    /// The Zoom account's email this key serves; without it, the org-wide
    /// entry (the one without an email) is set.
    #[schema(value_type = Option<Email>)]
    #[serde(default)]
    email: Option<String>,
    #[schema(schema_with = key_text)]
    api_key: String,
    #[schema(schema_with = secret_text)]
    api_secret: String,
}

impl JwtBody {
    pub fn parse(self) -> Result<JwtKey, ApiError> {
        let field = |name: &str, value: &str, max: usize| {
            Required::parse(name, value, max).map_err(invalid("invalid_field"))
        };
        let email = self.email.as_deref().map(Email::parse).transpose();
        Ok(JwtKey {
            email: email.map_err(invalid("invalid_email"))?,
            api_key: field("api_key", &self.api_key, KEY_MAX)?,
            api_secret: field("api_secret", &self.api_secret, SECRET_MAX)?,
        })
    }
}

/// A Server-to-Server OAuth app of the org's Zoom account.
#[derive(Deserialize, ToSchema)]
#[schema(as = S2sCredentials)]
pub struct S2sBody {
    /// The Zoom account's admin email.
    #[schema(value_type = Email)]
    email: String,
    #[schema(schema_with = id_text)]
    account_id: String,
    #[schema(schema_with = key_text)]
    client_id: String,
    #[schema(schema_with = secret_text)]
    client_secret: String,
}

impl S2sBody {
    pub fn parse(self) -> Result<S2sApp, ApiError> {
        let field = |name: &str, value: &str, max: usize| {
            Required::parse(name, value, max).map_err(invalid("invalid_field"))
        };
        Ok(S2sApp {
            email: Email::parse(&self.email).map_err(invalid("invalid_email"))?,
            account_id: field("account_id", &self.account_id, ID_MAX)?,
            client_id: field("client_id", &self.client_id, KEY_MAX)?,
            client_secret: field("client_secret", &self.client_secret, SECRET_MAX)?,
        })
    }
}

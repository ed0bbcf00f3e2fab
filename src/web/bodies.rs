//! Request bodies that more than one adapter accepts, parsed at the edge
//! into the domain types the services take.

use serde::Deserialize;

use crate::domain::{Email, Required};
use crate::error::ApiError;
use crate::service::credentials::{JwtKey, S2sApp};

use super::invalid;

#[derive(Deserialize)]
pub struct JwtBody {
    api_key: String,
    api_secret: String,
}

impl JwtBody {
    pub fn parse(self) -> Result<JwtKey, ApiError> {
        Ok(JwtKey {
            api_key: Required::parse("api_key", &self.api_key, 256)
                .map_err(invalid("invalid_field"))?,
            api_secret: Required::parse("api_secret", &self.api_secret, 512)
                .map_err(invalid("invalid_field"))?,
        })
    }
}

#[derive(Deserialize)]
pub struct S2sBody {
    email: String,
    account_id: String,
    client_id: String,
    client_secret: String,
}

impl S2sBody {
    pub fn parse(self) -> Result<S2sApp, ApiError> {
        let field = |name: &str, value: &str, max: usize| {
            Required::parse(name, value, max).map_err(invalid("invalid_field"))
        };
        Ok(S2sApp {
            email: Email::parse(&self.email).map_err(invalid("invalid_email"))?,
            account_id: field("account_id", &self.account_id, 128)?,
            client_id: field("client_id", &self.client_id, 256)?,
            client_secret: field("client_secret", &self.client_secret, 512)?,
        })
    }
}

//! Encrypted cookies under the keyring: written under the first master key,
//! opened under any, so rotating the master key signs no admin out and
//! breaks no OAuth callback in flight.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponseParts, ResponseParts};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar};

use crate::app::AppState;

pub struct Cookies {
    /// One jar per key, the write key's first; only the first is sent back.
    jars: Vec<PrivateCookieJar>,
}

impl Cookies {
    pub fn from_headers(headers: &axum::http::HeaderMap, app: &AppState) -> Self {
        let jars = app
            .cookie_keys
            .iter()
            .map(|key| PrivateCookieJar::from_headers(headers, key.clone()))
            .collect();
        Self { jars }
    }

    /// The decrypted value of `name`, under whichever key opens it.
    pub fn get(&self, name: &str) -> Option<String> {
        self.jars
            .iter()
            .find_map(|jar| jar.get(name).map(|c| c.value().to_string()))
    }

    pub fn with(mut self, cookie: Cookie<'static>) -> Self {
        self.jars[0] = self.jars[0].clone().add(cookie);
        self
    }

    pub fn without(mut self, cookie: impl Into<Cookie<'static>>) -> Self {
        self.jars[0] = self.jars[0].clone().remove(cookie);
        self
    }
}

impl FromRequestParts<AppState> for Cookies {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        Ok(Self::from_headers(&parts.headers, app))
    }
}

impl IntoResponseParts for Cookies {
    type Error = Infallible;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Infallible> {
        let first = self.jars.into_iter().next().expect("the keyring has a key");
        first.into_response_parts(res)
    }
}

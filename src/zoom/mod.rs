//! The upstream Zoom client: OAuth endpoints and the REST API, over reqwest.
//!
//! Every call runs in a `zoom` span, is counted by endpoint and outcome, and
//! has a timeout. Redirects are never followed (an SSRF guard for the token
//! exchange). Tokens are never put in a span or log line.

pub mod path;
pub mod proxy;
pub mod scopes;
mod types;

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::telemetry::Metrics;
pub use types::*;

/// Client credentials for one token call: the OAuth app's, or an org's S2S app's.
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// The OAuth app a grant is made and kept with: the deployment's (from the
/// environment, `oauth_app_id` `None`) or an org's own (its row id).
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct AppCredentials {
    pub oauth_app_id: Option<String>,
    pub client_id: String,
    pub client_secret: String,
}

impl AppCredentials {
    pub fn auth(&self) -> ClientAuth<'_> {
        ClientAuth {
            client_id: &self.client_id,
            client_secret: &self.client_secret,
        }
    }
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("oauth_app_id", &self.oauth_app_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct ZoomClient {
    http: reqwest::Client,
    oauth_base: String,
    api_base: String,
    metrics: Metrics,
}

impl ZoomClient {
    pub fn new(
        oauth_base: &url::Url,
        api_base: &url::Url,
        timeout: Duration,
        metrics: Metrics,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("tokenbroker/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is static and valid");
        Self {
            http,
            oauth_base: oauth_base.as_str().trim_end_matches('/').to_string(),
            api_base: api_base.as_str().trim_end_matches('/').to_string(),
            metrics,
        }
    }

    /// Zoom's authorize URL with `state` and an S256 PKCE challenge.
    pub fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        challenge: PkceCodeChallenge,
        scopes: Option<&str>,
    ) -> Result<url::Url, UpstreamError> {
        let auth_url = AuthUrl::new(format!("{}/oauth/authorize", self.oauth_base))
            .map_err(|e| UpstreamError::Protocol(format!("authorize URL: {e}")))?;
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| UpstreamError::Protocol(format!("redirect URL: {e}")))?;
        let client = BasicClient::new(ClientId::new(client_id.to_string()))
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect);
        let state = state.to_string();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(challenge);
        for scope in scopes
            .unwrap_or_default()
            .split([' ', ','])
            .filter(|s| !s.is_empty())
        {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        Ok(request.url().0)
    }

    pub async fn exchange_code(
        &self,
        auth: &ClientAuth<'_>,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<TokenSet, UpstreamError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        self.token_call("authorization_code", auth, &form, None)
            .await
    }

    /// Refreshes a grant. Zoom rotates the refresh token as soon as it
    /// processes the call, so the answer is awaited up to `answer_timeout`,
    /// however long the caller is willing to wait. A failure to connect still
    /// fails within the connect timeout: Zoom never saw that call.
    pub async fn refresh(
        &self,
        auth: &ClientAuth<'_>,
        refresh_token: &str,
        answer_timeout: Duration,
    ) -> Result<TokenSet, UpstreamError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_call("refresh_token", auth, &form, Some(answer_timeout))
            .await
    }

    /// Mints a Server-to-Server token. Zoom has invalidated the previous
    /// token when minting one, so a background mint waits for its answer as
    /// a refresh does (`answer_timeout`); a check of new credentials passes
    /// `None` and gets the client's usual timeout.
    pub async fn account_credentials(
        &self,
        auth: &ClientAuth<'_>,
        account_id: &str,
        answer_timeout: Option<Duration>,
    ) -> Result<TokenSet, UpstreamError> {
        let form = [
            ("grant_type", "account_credentials"),
            ("account_id", account_id),
        ];
        self.token_call("account_credentials", auth, &form, answer_timeout)
            .await
    }

    /// RFC 7009 revocation: a form body with HTTP Basic client authentication.
    pub async fn revoke(&self, auth: &ClientAuth<'_>, token: &str) -> Result<(), UpstreamError> {
        let request = self
            .http
            .post(format!("{}/oauth/revoke", self.oauth_base))
            .basic_auth(auth.client_id, Some(auth.client_secret))
            .form(&[("token", token)]);
        self.send::<serde_json::Value>("revoke", request)
            .await
            .map(|_| ())
    }

    pub async fn users_me(&self, access_token: &str) -> Result<ZoomUser, UpstreamError> {
        let request = self
            .http
            .get(format!("{}/users/me", self.api_base))
            .bearer_auth(access_token);
        self.send("users_me", request).await
    }

    async fn token_call(
        &self,
        grant: &'static str,
        auth: &ClientAuth<'_>,
        form: &[(&str, &str)],
        answer_timeout: Option<Duration>,
    ) -> Result<TokenSet, UpstreamError> {
        let mut request = self
            .http
            .post(format!("{}/oauth/token", self.oauth_base))
            .basic_auth(auth.client_id, Some(auth.client_secret))
            .form(form);
        if let Some(wait) = answer_timeout {
            request = request.timeout(wait);
        }
        self.send(grant, request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, UpstreamError> {
        // A child of the request (or refresh) that made the call.
        let span = tracing::info_span!(
            "zoom",
            endpoint,
            status = tracing::field::Empty,
            outcome = tracing::field::Empty,
            otel.kind = "client",
            otel.name = tracing::field::Empty,
        );
        span.record("otel.name", format_args!("zoom {endpoint}").to_string());
        let started = Instant::now();
        let result = async {
            let response = request.send().await.map_err(|e| unanswered(&e))?;
            let status = response.status();
            tracing::Span::current().record("status", status.as_u16());
            let body = response.bytes().await.map_err(|e| unanswered(&e))?;
            classify(status, &body)
        }
        .instrument(span.clone())
        .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(UpstreamError::Rejected { .. }) => "rejected",
            Err(UpstreamError::Unavailable(_)) => "unavailable",
            Err(UpstreamError::AnswerLost(_)) => "answer_lost",
            Err(UpstreamError::Protocol(_)) => "protocol_error",
        };
        span.record("outcome", outcome);
        span.in_scope(|| {
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "zoom call finished"
            )
        });
        self.metrics.upstream(endpoint, outcome, started.elapsed());
        result
    }
}

/// A call that got no answer: if the connection was never made, Zoom never
/// saw it; otherwise it may have acted on it.
fn unanswered(e: &reqwest::Error) -> UpstreamError {
    if e.is_connect() {
        UpstreamError::Unavailable(describe(e))
    } else {
        UpstreamError::AnswerLost(describe(e))
    }
}

fn classify<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, UpstreamError> {
    if status.is_success() {
        // Zoom acted on the call, but what it answered cannot be used.
        return serde_json::from_slice(body).map_err(|e| {
            UpstreamError::AnswerLost(format!("unreadable answer from Zoom ({status}): {e}"))
        });
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return Err(UpstreamError::Unavailable(format!(
            "Zoom answered {status}"
        )));
    }
    if status.is_redirection() {
        return Err(UpstreamError::Protocol(format!(
            "Zoom answered a redirect ({status}), which is never followed"
        )));
    }
    let parsed: ZoomErrorBody = serde_json::from_slice(body).unwrap_or_default();
    Err(UpstreamError::Rejected {
        status: status.as_u16(),
        error: parsed.error.unwrap_or_else(|| {
            parsed
                .code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into())
        }),
        reason: parsed
            .reason
            .or(parsed.error_description)
            .or(parsed.message)
            .unwrap_or_else(|| format!("Zoom answered {status}")),
    })
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // Say what failed without the URL or body: neither belongs in a log.
        let kind = if e.is_body() || e.is_decode() {
            "reading the answer failed"
        } else {
            "request failed"
        };
        kind.to_string()
    }
}

/// The signature Zoom sends with a webhook: `v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`.
pub fn webhook_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut message = format!("v0:{timestamp}:").into_bytes();
    message.extend_from_slice(body);
    format!("v0={}", crate::crypto::hmac_hex(secret, &message))
}

//! Configuration from the environment (and `.env`), validated up front.
//!
//! Every problem names its variable, so an operator can fix it from one line.

use std::net::SocketAddr;
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use url::Url;

use crate::crypto::Keyring;
use crate::domain::AppType;
use crate::zoom::scopes::{parse_scope_list, Products};

mod events;
mod proxy;
mod refresh_policy;
mod timing;
pub use events::EventsConfig;
pub use proxy::ProxyConfig;
pub use refresh_policy::RefreshPolicy;
pub use timing::Timing;

#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the broker needs to run. Built once, shared read-only.
#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub public_url: Url,
    pub database_url: String,
    /// `None` only for commands that touch no secret (`migrate`, `org create`).
    pub keyring: Option<Keyring>,
    pub zoom_client_id: Option<String>,
    pub zoom_client_secret: Option<String>,
    /// The admin-managed app for `app_type: "account"`; when unset, the
    /// deployment's app above serves both kinds (the documented fallback).
    pub zoom_account_client_id: Option<String>,
    pub zoom_account_client_secret: Option<String>,
    pub zoom_oauth_url: Url,
    pub zoom_api_url: Url,
    pub zoom_scopes: Option<String>,
    /// `ZOOM_PRODUCTS`: the products offered on the connect page.
    pub zoom_products: Products,
    /// `ZOOM_REQUIRED_SCOPES`: a grant lacking one of these is refused.
    pub zoom_required_scopes: Vec<String>,
    pub webhook_secret: Option<String>,
    pub jwt_cutoff: OffsetDateTime,
    pub jwt_new_credentials_cutoff: OffsetDateTime,
    pub refresh_ahead: Duration,
    pub return_origins: Vec<url::Origin>,
    pub log_format: LogFormat,
    pub upstream_timeout: Duration,
    pub background_refresh: bool,
    /// `TOKENBROKER_INVALIDATION` (default 1): hold cached tokens until their
    /// refresh window, invalidated across replicas by `LISTEN/NOTIFY` on
    /// PostgreSQL. 0: the short `TOKENBROKER_TOKEN_CACHE_MS` TTL only.
    pub invalidation: bool,
    pub refresh_concurrency: usize,
    pub refresh_sweep: Duration,
    pub token_cache_ttl: Duration,
    /// The admin console's files: `TOKENBROKER_PUBLIC_DIR`, else `./public`,
    /// else the source tree's `public/`.
    pub public_dir: std::path::PathBuf,
    /// Answer waits, store retries, database deadlines and the refresh lease.
    pub timing: Timing,
    /// What the background refresher refreshes, and how fast.
    pub refresh_policy: RefreshPolicy,
    /// Events to the CRM: destination, secret, retries.
    pub events: EventsConfig,
    /// The Zoom API proxy: rate limits, bodies, retries.
    pub proxy: ProxyConfig,
}

impl std::fmt::Debug for Config {
    // Hand-written so that client and webhook secrets can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url.as_str())
            .field("database", &self.database_url.split(':').next())
            .field("keyring", &self.keyring)
            .field("zoom_client_id", &self.zoom_client_id)
            .field("zoom_account_client_id", &self.zoom_account_client_id)
            .field("zoom_oauth_url", &self.zoom_oauth_url.as_str())
            .field("zoom_api_url", &self.zoom_api_url.as_str())
            .field("jwt_cutoff", &self.jwt_cutoff)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://tokenbroker.db?mode=rwc";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `get`, so tests can supply their own variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bind = parse_with(
            "TOKENBROKER_BIND",
            var("TOKENBROKER_BIND").as_deref().unwrap_or(DEFAULT_BIND),
            |s| s.parse::<SocketAddr>().map_err(|e| e.to_string()),
        )?;
        let public_url = parse_url(
            "TOKENBROKER_PUBLIC_URL",
            var("TOKENBROKER_PUBLIC_URL")
                .as_deref()
                .unwrap_or(DEFAULT_PUBLIC_URL),
        )?;
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                format!(
                    "unknown database scheme in {:?}: use sqlite://… or postgres://…",
                    database_url.split(':').next().unwrap_or_default()
                ),
            ));
        }
        let keyring = var("TOKENBROKER_MASTER_KEY")
            .map(|spec| {
                Keyring::parse(&spec)
                    .map_err(|e| ConfigError::new("TOKENBROKER_MASTER_KEY", e.to_string()))
            })
            .transpose()?;
        let zoom_oauth_url = parse_url(
            "ZOOM_OAUTH_URL",
            var("ZOOM_OAUTH_URL")
                .as_deref()
                .unwrap_or("https://zoom.us"),
        )?;
        let zoom_api_url = parse_url(
            "ZOOM_API_URL",
            var("ZOOM_API_URL")
                .as_deref()
                .unwrap_or("https://api.zoom.us/v2"),
        )?;
        let return_origins = var("TOKENBROKER_RETURN_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let url = parse_url("TOKENBROKER_RETURN_ORIGINS", s)?;
                if url.path() != "/" || url.query().is_some() {
                    return Err(ConfigError::new(
                        "TOKENBROKER_RETURN_ORIGINS",
                        format!(
                            "{s:?} must be an origin like https://crm.example.com, without a path"
                        ),
                    ));
                }
                Ok(url.origin())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if var("ZOOM_ACCOUNT_CLIENT_ID").is_some() != var("ZOOM_ACCOUNT_CLIENT_SECRET").is_some() {
            return Err(ConfigError::new(
                "ZOOM_ACCOUNT_CLIENT_SECRET",
                "ZOOM_ACCOUNT_CLIENT_ID and ZOOM_ACCOUNT_CLIENT_SECRET must be set together",
            ));
        }
        let log_format = match var("TOKENBROKER_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "TOKENBROKER_LOG_FORMAT",
                    format!("{other:?} is not one of: text, json"),
                ))
            }
        };
        let upstream_timeout = Duration::from_secs(
            parse_num(
                "TOKENBROKER_UPSTREAM_TIMEOUT_SECS",
                var("TOKENBROKER_UPSTREAM_TIMEOUT_SECS"),
                10,
            )?
            .max(1),
        );
        let refresh_ahead = Duration::from_secs(parse_num(
            "TOKENBROKER_REFRESH_AHEAD_SECS",
            var("TOKENBROKER_REFRESH_AHEAD_SECS"),
            300,
        )?);
        let timing = Timing::from_lookup(var, upstream_timeout, refresh_ahead)?;
        Ok(Self {
            bind,
            public_url,
            database_url,
            keyring,
            zoom_client_id: var("ZOOM_CLIENT_ID"),
            zoom_client_secret: var("ZOOM_CLIENT_SECRET"),
            zoom_account_client_id: var("ZOOM_ACCOUNT_CLIENT_ID"),
            zoom_account_client_secret: var("ZOOM_ACCOUNT_CLIENT_SECRET"),
            zoom_oauth_url,
            zoom_api_url,
            zoom_scopes: var("ZOOM_SCOPES"),
            zoom_products: match var("ZOOM_PRODUCTS") {
                Some(raw) => parse_with("ZOOM_PRODUCTS", &raw, Products::parse)?,
                None => Products::default(),
            },
            zoom_required_scopes: match var("ZOOM_REQUIRED_SCOPES") {
                Some(raw) => parse_with("ZOOM_REQUIRED_SCOPES", &raw, parse_scope_list)?,
                None => Vec::new(),
            },
            webhook_secret: var("ZOOM_WEBHOOK_SECRET_TOKEN"),
            jwt_cutoff: parse_instant(
                "TOKENBROKER_JWT_CUTOFF",
                var("TOKENBROKER_JWT_CUTOFF"),
                "2023-09-01T00:00:00Z",
            )?,
            jwt_new_credentials_cutoff: parse_instant(
                "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
                var("TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF"),
                "2023-06-01T00:00:00Z",
            )?,
            refresh_ahead,
            return_origins,
            log_format,
            upstream_timeout,
            background_refresh: parse_num(
                "TOKENBROKER_BACKGROUND_REFRESH",
                var("TOKENBROKER_BACKGROUND_REFRESH"),
                1,
            )? != 0,
            invalidation: parse_num(
                "TOKENBROKER_INVALIDATION",
                var("TOKENBROKER_INVALIDATION"),
                1,
            )? != 0,
            token_cache_ttl: Duration::from_millis(parse_num(
                "TOKENBROKER_TOKEN_CACHE_MS",
                var("TOKENBROKER_TOKEN_CACHE_MS"),
                1000,
            )?),
            public_dir: public_dir(var("TOKENBROKER_PUBLIC_DIR")),
            refresh_sweep: Duration::from_secs(
                parse_num(
                    "TOKENBROKER_REFRESH_SWEEP_SECS",
                    var("TOKENBROKER_REFRESH_SWEEP_SECS"),
                    30,
                )?
                .max(1),
            ),
            refresh_concurrency: parse_num(
                "TOKENBROKER_REFRESH_CONCURRENCY",
                var("TOKENBROKER_REFRESH_CONCURRENCY"),
                4,
            )?
            .max(1) as usize,
            timing,
            refresh_policy: RefreshPolicy::from_lookup(var)?,
            events: EventsConfig::from_lookup(var)?,
            proxy: ProxyConfig::from_lookup(var)?,
        })
    }

    /// The keyring, or the error `serve` reports when there is none.
    pub fn require_keyring(&self) -> Result<&Keyring, ConfigError> {
        self.keyring.as_ref().ok_or_else(|| {
            ConfigError::new(
                "TOKENBROKER_MASTER_KEY",
                "is not set: run `tokenbroker gen-key` and put the result in the environment or .env",
            )
        })
    }

    /// `PUBLIC_URL/oauth/callback`, the redirect URL registered with Zoom.
    pub fn redirect_uri(&self) -> String {
        self.public_path("/oauth/callback")
    }

    pub fn public_path(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// The Zoom app (client id, secret) that serves `app_type`, if one is configured.
    /// A Zoom app has one management type: the admin-managed app serves account
    /// connections; without one, the deployment's app serves both.
    pub fn zoom_app(&self, app_type: AppType) -> Option<(&str, &str)> {
        let user_app = || {
            Some((
                self.zoom_client_id.as_deref()?,
                self.zoom_client_secret.as_deref()?,
            ))
        };
        match app_type {
            AppType::User => user_app(),
            AppType::Account if self.zoom_account_client_id.is_some() => Some((
                self.zoom_account_client_id.as_deref()?,
                self.zoom_account_client_secret.as_deref()?,
            )),
            AppType::Account => user_app(),
        }
    }

    /// True when one Zoom app serves both kinds of connection (no account app set).
    pub fn single_zoom_app(&self) -> bool {
        self.zoom_account_client_id.is_none()
    }
}

fn parse_with<T>(
    var: &'static str,
    raw: &str,
    f: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    f(raw).map_err(|e| ConfigError::new(var, format!("{raw:?} is invalid: {e}")))
}

fn parse_url(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = parse_with(var, raw, |s| Url::parse(s).map_err(|e| e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            var,
            format!("{raw:?} must be an http or https URL"),
        ));
    }
    Ok(url)
}

fn parse_instant(
    var: &'static str,
    raw: Option<String>,
    default: &str,
) -> Result<OffsetDateTime, ConfigError> {
    let raw = raw.unwrap_or_else(|| default.to_string());
    parse_with(var, &raw, |s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| "expected an RFC 3339 instant such as 2023-09-01T00:00:00Z".to_string())
    })
}

fn parse_num(var: &'static str, raw: Option<String>, default: u64) -> Result<u64, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => parse_with(var, &raw, |s| {
            s.parse::<u64>()
                .map_err(|_| "expected a whole number".to_string())
        }),
    }
}

fn public_dir(configured: Option<String>) -> std::path::PathBuf {
    if let Some(dir) = configured {
        return dir.into();
    }
    let local = std::path::PathBuf::from("public");
    if local.join("style.css").exists() {
        local
    } else {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/public"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind.to_string(), DEFAULT_BIND);
        assert_eq!(c.redirect_uri(), "http://127.0.0.1:8080/oauth/callback");
        assert_eq!(c.refresh_ahead, Duration::from_secs(300));
        assert_eq!(c.jwt_cutoff.unix_timestamp(), 1_693_526_400);
        assert!(c.keyring.is_none());
        assert!(c.require_keyring().is_err());
    }

    #[test]
    fn every_error_names_its_variable() {
        let cases = [
            ("TOKENBROKER_MASTER_KEY", "nope"),
            ("DATABASE_URL", "mysql://x"),
            ("TOKENBROKER_JWT_CUTOFF", "tomorrow"),
            ("TOKENBROKER_BIND", "here"),
            ("TOKENBROKER_RETURN_ORIGINS", "https://crm.example.com/path"),
            ("TOKENBROKER_REFRESH_AHEAD_SECS", "-1"),
            ("ZOOM_OAUTH_URL", "ftp://zoom.us"),
            ("ZOOM_PRODUCTS", "meetings"),
            ("ZOOM_PRODUCTS", "a=x;a=y"),
            ("ZOOM_REQUIRED_SCOPES", "meeting:read meeting!write"),
        ];
        for (var, value) in cases {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = config(&[
            ("ZOOM_CLIENT_SECRET", "s3cr3t-value"),
            ("ZOOM_WEBHOOK_SECRET_TOKEN", "whsec-value"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-value") && !shown.contains("whsec-value"));
    }
}

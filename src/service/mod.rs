//! Use cases: one function per thing a user of the broker can do.
//!
//! Each takes validated domain types and does, in one place, the write, the
//! cache invalidation and the audit entry (and, later, the event to the CRM).
//! Each returns a [`ServiceError`]; the HTTP adapters (`api/`, `admin/`,
//! `flow/`, `webhooks.rs`) and the CLI map it to a status, a page or an exit
//! code once, at the edge. Services call the core (`tokens/`, `zoom/`,
//! `store/`, `crypto.rs`), never an adapter.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod authorization;
pub mod connect;
pub mod connections;
pub mod credentials;
pub mod events;
pub mod invalidation;
pub mod keys;
pub mod oauth_app;
pub mod orgs;
pub mod paging;
pub mod proxy;
pub mod report;
pub mod sdk;
pub mod tokens;

use crate::store::StoreError;
use crate::tokens::TokenError;

/// What became of a one-time link or state presented by a browser.
#[derive(Debug)]
pub enum Claim<T> {
    Claimed(T),
    AlreadyUsed,
    Expired,
    Unknown,
}

impl<T> Claim<T> {
    /// What a look (without using it) at a one-time record finds.
    fn peek<R>(
        row: Option<R>,
        used: impl Fn(&R) -> bool,
        expires_at: impl Fn(&R) -> i64,
        now: i64,
    ) -> Result<R, Claim<T>> {
        match row {
            None => Err(Claim::Unknown),
            Some(r) if used(&r) => Err(Claim::AlreadyUsed),
            Some(r) if expires_at(&r) <= now => Err(Claim::Expired),
            Some(r) => Ok(r),
        }
    }

    /// Carries a store claim over; the record itself stays in the service.
    fn from_store<R>(consumed: crate::store::Consumed<R>) -> Result<R, Claim<T>> {
        use crate::store::Consumed;
        match consumed {
            Consumed::Claimed(row) => Ok(row),
            Consumed::AlreadyUsed(_) => Err(Claim::AlreadyUsed),
            Consumed::Expired(_) => Err(Claim::Expired),
            Consumed::Unknown => Err(Claim::Unknown),
        }
    }
}

/// Why a use case did not happen. Messages are for humans; `code`s are stable.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No credentials, or unknown ones (401).
    #[error("missing or unknown API key")]
    Unauthenticated,
    /// A known key whose expiry (unix seconds) has passed (401).
    #[error("this API key expired at {}", crate::domain::rfc3339(*.0))]
    KeyExpired(i64),
    /// A known key without the scope the call needs (403 `insufficient_scope`).
    #[error("{0}")]
    InsufficientScope(String),
    /// The input is not acceptable (400).
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// Nothing by that name, or nothing this caller may see (404).
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The current state forbids it (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Zoom refused what we were given (422).
    #[error("{message}")]
    Rejected { code: &'static str, message: String },
    /// Zoom did not answer (503).
    #[error("Zoom is unavailable: {detail}")]
    Unavailable {
        detail: String,
        retry_after_secs: u64,
    },
    /// A Zoom account's rate budget is spent, or Zoom asked for a pause
    /// (429 `rate_limited` with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The database did not answer in time (503 with `Retry-After`).
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    /// No token could be handed out.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A bug or a broken dependency; the detail is logged, never shown.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(code: &'static str, message: impl ToString) -> Self {
        Self::Invalid {
            code,
            message: message.to_string(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<crate::store::SharedStoreError> for ServiceError {
    fn from(err: crate::store::SharedStoreError) -> Self {
        if err.unavailable {
            Self::DatabaseUnavailable(err.message)
        } else {
            Self::Internal(err.message)
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        if err.is_unavailable() {
            Self::DatabaseUnavailable(err.to_string())
        } else {
            Self::internal(err)
        }
    }
}

impl From<crate::crypto::CryptoError> for ServiceError {
    fn from(err: crate::crypto::CryptoError) -> Self {
        Self::internal(format!("stored secret could not be opened: {err}"))
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

//! Cursor paging of an org's connections (and the cursors of the audit log).
//!
//! A cursor is base64url of a small JSON object: the last row's key in every
//! order a walk can take (`k`: `s` by `seq`, `e` by email, `u` by
//! `updated_at`) and a binding (`b`), a hash of the org's id and the list it
//! pages. "After this row" means the same whatever the filters, so a cursor
//! works with any filters of its own org and list: a CRM that narrows or
//! widens its filters mid-walk resumes where it was (the OpenAPI document
//! promises every server-made cursor is accepted). Another org's cursor fails
//! the binding: `400 invalid_cursor`. The binding is a plain hash, not a MAC:
//! the key only narrows a query the caller may run anyway, so a forged cursor
//! gains nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::domain::{AppType, ConnectionStatus, Email};
use crate::store::{
    Connection, ConnectionKey, ConnectionOrder, ConnectionPageQuery, EmailMatch, Org,
    PagedConnection,
};

use super::{ServiceError, ServiceResult};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// `GET …/connections` query parameters, as sent; [`connections_page`]
/// validates them. The OpenAPI document states the same rules.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConnectionListParams {
    /// Page size.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<String>,
    /// The `next` of an earlier page of this org's connections: the walk
    /// resumes after that page's last row, with whatever filters this call
    /// gives. Only the server makes cursors; any other value is
    /// `400 invalid_cursor`. Empty: the first page.
    #[param(pattern = r"^[A-Za-z0-9_-]*$", max_length = 2048)]
    pub after: Option<String>,
    /// Only this status.
    #[param(value_type = Option<crate::domain::ConnectionStatus>)]
    pub status: Option<String>,
    /// Only this app type.
    #[param(value_type = Option<AppType>)]
    pub app_type: Option<String>,
    /// Only this address (matched trimmed, case-insensitively). Orders the
    /// walk by email. With `email_prefix` too, both must hold.
    #[param(value_type = Option<crate::domain::Email>)]
    pub email: Option<String>,
    /// Only addresses starting with this text (e.g. `ann` or `ann@crm.`),
    /// matched case-insensitively. Orders the walk by email.
    #[param(schema_with = crate::domain::word_schema_254)]
    pub email_prefix: Option<String>,
    /// RFC 3339: only connections changed at or after this instant. Orders
    /// the walk by `updated_at`, for incremental sync.
    #[param(format = DateTime)]
    pub updated_since: Option<String>,
}

pub struct ConnectionPage {
    pub connections: Vec<Connection>,
    /// The cursor for the next page; `None` on the last one.
    pub next: Option<String>,
}

pub async fn connections_page(
    app: &AppState,
    org: &Org,
    params: &ConnectionListParams,
) -> ServiceResult<ConnectionPage> {
    let limit = parse_limit(params.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    // Every parameter is checked before a contradiction may end the walk early.
    let status = parse_opt(params.status.as_deref(), "invalid_status")?;
    let app_type = parse_opt::<AppType>(params.app_type.as_deref(), "invalid_app_type")?;
    let updated_since = params
        .updated_since
        .as_deref()
        .map(parse_instant)
        .transpose()?;
    let email = email_match(params)?;
    let binding = binding(&org.id, "connections", "v2");
    let after = params
        .after
        .as_deref()
        // An empty `after` is the first page, as if it were absent.
        .filter(|a| !a.is_empty())
        .map(|raw| decode(raw, &binding))
        .transpose()?;
    let Some(email) = email else {
        // Contradicting filters match nothing, after any cursor too.
        return Ok(ConnectionPage {
            connections: Vec::new(),
            next: None,
        });
    };
    let mut q = ConnectionPageQuery {
        org_id: org.id.clone(),
        status,
        app_type,
        email,
        updated_since,
        after: None,
        // One more than asked, to learn whether another page follows.
        limit: limit + 1,
    };
    let order = q.order();
    if let Some(keys) = &after {
        q.after = Some(connection_key(order, &keys[order_tag(order)])?);
    }
    let mut rows = app.store.page_connections(&q).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|last| encode(&binding, row_keys(last)))
    } else {
        None
    };
    Ok(ConnectionPage {
        connections: rows.into_iter().map(|r| r.connection).collect(),
        next,
    })
}

/// The connection counts per status, every status present (zero when none).
pub async fn status_counts(
    app: &AppState,
    org: &Org,
) -> ServiceResult<Vec<(ConnectionStatus, i64)>> {
    let found = app.store.connection_counts(&org.id).await?;
    Ok(ConnectionStatus::ALL
        .iter()
        .map(|s| {
            let n = found.iter().find(|(f, _)| f == s).map_or(0, |(_, n)| *n);
            (*s, n)
        })
        .collect())
}

/// The email filter: `None` when the filters contradict each other (an
/// `email` outside its `email_prefix`), so nothing can match.
fn email_match(params: &ConnectionListParams) -> ServiceResult<Option<Option<EmailMatch>>> {
    match (params.email.as_deref(), params.email_prefix.as_deref()) {
        // Both: the address must also start with the prefix (filters combine
        // with AND); a contradiction simply matches nothing.
        (Some(raw), Some(prefix)) => {
            let email = Email::parse(raw).map_err(|e| ServiceError::invalid("invalid_email", e))?;
            let prefix = fold_prefix(prefix)?;
            let matches = email.as_str().starts_with(&prefix);
            Ok(matches.then(|| Some(EmailMatch::Exact(email.as_str().to_string()))))
        }
        (Some(raw), None) => {
            let email = Email::parse(raw).map_err(|e| ServiceError::invalid("invalid_email", e))?;
            Ok(Some(Some(EmailMatch::Exact(email.as_str().to_string()))))
        }
        (None, Some(raw)) => Ok(Some(Some(EmailMatch::Prefix(fold_prefix(raw)?)))),
        (None, None) => Ok(Some(None)),
    }
}

/// Folded like stored addresses: trimmed, ASCII letters lower-cased.
fn fold_prefix(raw: &str) -> ServiceResult<String> {
    let prefix = raw.trim().to_ascii_lowercase();
    if prefix.is_empty()
        || raw.chars().count() > 254
        || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ServiceError::invalid(
            "invalid_email_prefix",
            "email_prefix must be 1 to 254 characters, without spaces",
        ));
    }
    Ok(prefix)
}

/// The row's key in every order, so any later walk can resume after it.
fn row_keys(row: &PagedConnection) -> Value {
    let mut keys = serde_json::Map::new();
    for order in [
        ConnectionOrder::Seq,
        ConnectionOrder::Email,
        ConnectionOrder::Updated,
    ] {
        keys.insert(
            order_tag(order).to_string(),
            key_json(&ConnectionKey::of(order, row)),
        );
    }
    Value::Object(keys)
}

fn order_tag(order: ConnectionOrder) -> &'static str {
    match order {
        ConnectionOrder::Seq => "s",
        ConnectionOrder::Email => "e",
        ConnectionOrder::Updated => "u",
    }
}

fn key_json(key: &ConnectionKey) -> Value {
    match key {
        ConnectionKey::Seq(seq) => json!([seq]),
        ConnectionKey::Email(email, seq) => json!([email, seq]),
        ConnectionKey::Updated(at, seq) => json!([at, seq]),
    }
}

fn connection_key(order: ConnectionOrder, k: &Value) -> ServiceResult<ConnectionKey> {
    let int = |v: &Value| v.as_i64().ok_or_else(malformed);
    let parts = k.as_array().ok_or_else(malformed)?;
    match (order, parts.as_slice()) {
        (ConnectionOrder::Seq, [seq]) => Ok(ConnectionKey::Seq(int(seq)?)),
        (ConnectionOrder::Email, [email, seq]) => Ok(ConnectionKey::Email(
            email.as_str().ok_or_else(malformed)?.to_string(),
            int(seq)?,
        )),
        (ConnectionOrder::Updated, [at, seq]) => Ok(ConnectionKey::Updated(int(at)?, int(seq)?)),
        _ => Err(malformed()),
    }
}

/// Binds a cursor to the org and the list (`what` tells its versions apart).
pub(crate) fn binding(org_id: &str, list: &str, what: &str) -> String {
    sha256_hex(format!("tokenbroker cursor v1\n{org_id}\n{list}\n{what}").as_bytes())[..24]
        .to_string()
}

pub(crate) fn encode(binding: &str, key: Value) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "b": binding, "k": key }).to_string())
}

/// The key inside a cursor, if it is well formed and carries `binding`.
pub(crate) fn decode(raw: &str, binding: &str) -> ServiceResult<Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim())
        .map_err(|_| malformed())?;
    let mut cursor: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if cursor["b"].as_str() != Some(binding) {
        return Err(ServiceError::invalid(
            "invalid_cursor",
            "this cursor was made for another org or list (or before 0.2's cursors \
             changed); start again without `after`",
        ));
    }
    Ok(cursor["k"].take())
}

fn malformed() -> ServiceError {
    ServiceError::invalid(
        "invalid_cursor",
        "the cursor is malformed; pass the `next` value of the previous page unchanged",
    )
}

pub(crate) fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> ServiceResult<i64> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ServiceError::invalid(
            "invalid_limit",
            format!("limit must be a whole number from 1 to {max}, not {raw:?}"),
        )),
    }
}

fn parse_opt<T: std::str::FromStr<Err = crate::domain::InvalidValue>>(
    raw: Option<&str>,
    code: &'static str,
) -> ServiceResult<Option<T>> {
    raw.map(|r| {
        r.trim()
            .parse::<T>()
            .map_err(|e| ServiceError::invalid(code, e))
    })
    .transpose()
}

fn parse_instant(raw: &str) -> ServiceResult<i64> {
    time::OffsetDateTime::parse(raw.trim(), &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            ServiceError::invalid(
                "invalid_updated_since",
                format!("updated_since must be an RFC 3339 instant, not {raw:?}"),
            )
        })
}

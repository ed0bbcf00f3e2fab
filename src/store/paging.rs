//! Keyset pages of an org's connections.
//!
//! Unlike the fixed statements in `sql.rs`, a page query depends on which
//! filters are set: writing `($2 IS NULL OR status = $2)` instead would keep
//! the planner from choosing the index that matches the filter. So the text is
//! assembled here, from fixed fragments only; every value is a bind.
//!
//! Each order has an index ending in its keyset columns
//! (`migrations/*/0005_connection_paging.sql`), so a page reads `limit` index
//! entries after the cursor: no sort, no OFFSET, however deep the page.

use sqlx::FromRow;

use super::records::Connection;
use crate::domain::{AppType, ConnectionStatus};

/// How a page matches `email`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailMatch {
    /// The whole (folded) address.
    Exact(String),
    /// Addresses starting with this (folded) text.
    Prefix(String),
}

/// The order of a walk, chosen from its filters (see [`ConnectionPageQuery::order`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionOrder {
    /// Insertion order: `seq`.
    Seq,
    /// `(email, seq)`, when an email filter is set.
    Email,
    /// `(updated_at, seq)`, when `updated_since` is set.
    Updated,
}

impl ConnectionOrder {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seq => "seq",
            Self::Email => "email",
            Self::Updated => "updated",
        }
    }
}

/// The last row of the previous page, in the walk's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionKey {
    Seq(i64),
    Email(String, i64),
    Updated(i64, i64),
}

impl ConnectionKey {
    pub fn order(&self) -> ConnectionOrder {
        match self {
            Self::Seq(_) => ConnectionOrder::Seq,
            Self::Email(..) => ConnectionOrder::Email,
            Self::Updated(..) => ConnectionOrder::Updated,
        }
    }

    /// The key of `row` in `order`.
    pub fn of(order: ConnectionOrder, row: &PagedConnection) -> Self {
        match order {
            ConnectionOrder::Seq => Self::Seq(row.seq),
            ConnectionOrder::Email => Self::Email(row.connection.email.clone(), row.seq),
            ConnectionOrder::Updated => Self::Updated(row.connection.updated_at, row.seq),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionPageQuery {
    pub org_id: String,
    pub status: Option<ConnectionStatus>,
    pub app_type: Option<AppType>,
    pub email: Option<EmailMatch>,
    /// Only rows with `updated_at >= updated_since` (inclusive, so a row
    /// changed in the same second as the previous sync is seen again).
    pub updated_since: Option<i64>,
    /// Must be in [`Self::order`]; rows strictly after it.
    pub after: Option<ConnectionKey>,
    pub limit: i64,
}

impl ConnectionPageQuery {
    /// An email filter is the most selective, so it picks the order; then
    /// `updated_since`, whose walk must follow `updated_at` to be resumable.
    pub fn order(&self) -> ConnectionOrder {
        if self.email.is_some() {
            ConnectionOrder::Email
        } else if self.updated_since.is_some() {
            ConnectionOrder::Updated
        } else {
            ConnectionOrder::Seq
        }
    }
}

/// A connection with its paging key.
#[derive(Debug, Clone, FromRow)]
pub struct PagedConnection {
    #[sqlx(flatten)]
    pub connection: Connection,
    pub seq: i64,
}

/// A value to bind, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

/// The page statement and its binds. `email_collation` is what makes email
/// comparisons byte-ordered on this backend (empty on SQLite, whose default
/// is already bytewise), matching the email index.
pub fn connection_page_sql(q: &ConnectionPageQuery, email_collation: &str) -> (String, Vec<Bind>) {
    let email = format!("email{email_collation}");
    let mut binds = vec![Bind::Text(q.org_id.clone())];
    let mut next = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let mut sql = String::from("SELECT * FROM connections WHERE org_id = $1");
    if let Some(status) = q.status {
        sql += &format!(" AND status = {}", next(Bind::Text(status.as_str().into())));
    }
    if let Some(app_type) = q.app_type {
        sql += &format!(
            " AND app_type = {}",
            next(Bind::Text(app_type.as_str().into()))
        );
    }
    match &q.email {
        Some(EmailMatch::Exact(e)) => {
            sql += &format!(" AND {email} = {}", next(Bind::Text(e.clone())))
        }
        Some(EmailMatch::Prefix(p)) => {
            let low = next(Bind::Text(p.clone()));
            sql += &format!(" AND {email} >= {low}");
            if let Some(high) = prefix_successor(p) {
                sql += &format!(" AND {email} < {}", next(Bind::Text(high)));
            }
        }
        None => {}
    }
    if let Some(since) = q.updated_since {
        sql += &format!(" AND updated_at >= {}", next(Bind::Int(since)));
    }
    match &q.after {
        None => {}
        Some(ConnectionKey::Seq(seq)) => sql += &format!(" AND seq > {}", next(Bind::Int(*seq))),
        Some(ConnectionKey::Email(e, seq)) => {
            let (a, b) = (next(Bind::Text(e.clone())), next(Bind::Int(*seq)));
            sql += &format!(" AND ({email}, seq) > ({a}, {b})");
        }
        Some(ConnectionKey::Updated(at, seq)) => {
            let (a, b) = (next(Bind::Int(*at)), next(Bind::Int(*seq)));
            sql += &format!(" AND (updated_at, seq) > ({a}, {b})");
        }
    }
    sql += match q.order() {
        ConnectionOrder::Seq => " ORDER BY seq",
        ConnectionOrder::Email if email_collation.is_empty() => " ORDER BY email, seq",
        ConnectionOrder::Email => " ORDER BY email COLLATE \"C\", seq",
        ConnectionOrder::Updated => " ORDER BY updated_at, seq",
    };
    sql += &format!(" LIMIT {}", next(Bind::Int(q.limit)));
    (sql, binds)
}

/// The smallest string greater than every string starting with `prefix`, in
/// byte (= code point) order: the last character, incremented. `None` when
/// no such string exists (every character is the largest code point).
pub fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let bumped = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(c) = bumped {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_bounds_exactly_the_strings_that_start_with_it() {
        assert_eq!(prefix_successor("ann@").as_deref(), Some("annA"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
    }

    #[test]
    fn filters_become_binds_in_placeholder_order() {
        let q = ConnectionPageQuery {
            org_id: "o".into(),
            status: Some(ConnectionStatus::NeedsReauth),
            app_type: None,
            email: Some(EmailMatch::Prefix("ann".into())),
            updated_since: None,
            after: Some(ConnectionKey::Email("ann@x.example".into(), 7)),
            limit: 10,
        };
        let (sql, binds) = connection_page_sql(&q, " COLLATE \"C\"");
        assert!(sql.contains("status = $2"), "{sql}");
        assert!(sql.contains("email COLLATE \"C\" >= $3 AND email COLLATE \"C\" < $4"));
        assert!(
            sql.contains("(email COLLATE \"C\", seq) > ($5, $6)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY email COLLATE \"C\", seq LIMIT $7"),
            "{sql}"
        );
        assert_eq!(binds[3], Bind::Text("ano".into()));
        assert_eq!(binds[5], Bind::Int(7));
        assert_eq!(binds.len(), 7);
    }
}

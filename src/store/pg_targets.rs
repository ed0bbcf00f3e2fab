//! `DATABASE_URL` with several PostgreSQL hosts, in libpq's syntax:
//! `postgres://user:pw@db1:5432,db2:5432/tokenbroker?target_session_attrs=read-write`.
//!
//! sqlx 0.9 parses one host only (its URL parser rejects `h1:p1,h2:p2`)
//! and ignores `target_session_attrs`, so the list is split here into one
//! sqlx option set per host, and the read-write check that libpq would
//! make on every new connection is made by `pg_failover`.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// What a connection must be for the broker to use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    /// The first host that answers (libpq's default, for one host).
    Any,
    /// A primary that accepts writes. `primary` is taken as the same: the
    /// broker writes on every refresh, so a read-only primary is no use.
    ReadWrite,
}

/// One host of the list: a label for logs (never the password) and its options.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub label: String,
    pub options: PgConnectOptions,
}

#[derive(Debug, Clone)]
pub struct PgTargets {
    pub hosts: Vec<PgTarget>,
    pub attrs: SessionAttrs,
}

impl PgTargets {
    /// Splits `url` into one target per host. Several hosts without
    /// `target_session_attrs` mean `read-write` (libpq would say `any`):
    /// landing on a standby first would make every write fail.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| "DATABASE_URL has no scheme".to_string())?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, host_list) = match authority.rsplit_once('@') {
            Some((user, hosts)) => (format!("{user}@"), hosts),
            None => (String::new(), authority),
        };
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (tail, None),
        };
        let mut attrs = None;
        let mut kept = Vec::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("target_session_attrs", value)) => attrs = Some(parse_attrs(value)?),
                _ => kept.push(pair),
            }
        }
        let hosts: Vec<&str> = host_list.split(',').collect();
        // One empty host is sqlx's own default (`postgres:///db`, a socket).
        if hosts.len() > 1 && hosts.iter().any(|h| h.is_empty()) {
            return Err("DATABASE_URL has an empty host in its host list".into());
        }
        let attrs = attrs.unwrap_or(if hosts.len() > 1 {
            SessionAttrs::ReadWrite
        } else {
            SessionAttrs::Any
        });
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        let hosts = hosts
            .into_iter()
            .map(|host| {
                let one = format!("{scheme}://{userinfo}{host}{path}{query}");
                let options = PgConnectOptions::from_str(&one)
                    .map_err(|e| format!("DATABASE_URL host {host}: {e}"))?;
                Ok(PgTarget {
                    label: host.to_string(),
                    options,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { hosts, attrs })
    }

    /// Whether connections need watching: a host list, or one host that
    /// must be writable (a DNS name that moves to the new primary).
    pub fn is_failover(&self) -> bool {
        self.hosts.len() > 1 || self.attrs == SessionAttrs::ReadWrite
    }
}

fn parse_attrs(value: &str) -> Result<SessionAttrs, String> {
    match value {
        "any" => Ok(SessionAttrs::Any),
        "read-write" | "primary" => Ok(SessionAttrs::ReadWrite),
        other => Err(format!(
            "target_session_attrs={other} is not supported: the broker writes, \
             so use read-write (or primary, or any)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_becomes_one_target_per_host_with_the_rest_kept() {
        let t = PgTargets::parse(
            "postgres://tb:p%40ss@db1:6001,db2:6002/broker?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(t.attrs, SessionAttrs::ReadWrite);
        let got: Vec<_> = t
            .hosts
            .iter()
            .map(|h| {
                let o = &h.options;
                (
                    h.label.clone(),
                    o.get_host().to_string(),
                    o.get_port(),
                    o.get_username().to_string(),
                    o.get_database().map(str::to_string),
                )
            })
            .collect();
        let want = |host: &str, port| {
            (
                format!("{host}:{port}"),
                host.to_string(),
                port,
                "tb".to_string(),
                Some("broker".to_string()),
            )
        };
        assert_eq!(got, vec![want("db1", 6001), want("db2", 6002)]);
        assert!(t.is_failover());
    }

    #[test]
    fn one_host_keeps_libpq_defaults_and_several_default_to_read_write() {
        let one = PgTargets::parse("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!((one.hosts.len(), one.attrs), (1, SessionAttrs::Any));
        assert!(!one.is_failover());
        let moving = PgTargets::parse("postgres://db.internal/x?target_session_attrs=primary");
        assert!(moving.unwrap().is_failover());
        let two = PgTargets::parse("postgresql://a,b:5433").unwrap();
        assert_eq!(two.attrs, SessionAttrs::ReadWrite);
        assert_eq!(two.hosts[0].options.get_port(), 5432);
        assert_eq!(two.hosts[1].options.get_port(), 5433);
        let any = PgTargets::parse("postgres://a,b/x?target_session_attrs=any").unwrap();
        assert_eq!(any.attrs, SessionAttrs::Any);
    }

    #[test]
    fn unusable_lists_are_refused_with_the_reason() {
        let standby = PgTargets::parse("postgres://a,b/x?target_session_attrs=standby");
        assert!(standby.unwrap_err().contains("standby is not supported"));
        let empty = PgTargets::parse("postgres://a,,b/x").unwrap_err();
        assert!(empty.contains("empty host"), "{empty}");
        assert!(PgTargets::parse("a,b").is_err());
        let socket = PgTargets::parse("postgres:///broker?host=/var/run/postgresql").unwrap();
        assert!(!socket.is_failover());
    }
}

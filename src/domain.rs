//! Validated values that cross the system's edges.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidValue(pub String);

mod text;
pub use text::{Label, Required};

/// Characters `str::trim` and `char::is_whitespace` treat as white space
/// (Unicode White_Space), as the body of a regex character class. The
/// OpenAPI patterns use it rather than `\s`, whose meaning differs between
/// regex dialects, so the document says exactly what the parsers accept.
const WHITE_SPACE: &str = r"\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// White space and control characters (`char::is_control`), as a class body.
const SPACE_OR_CONTROL: &str =
    r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// An email address, trimmed and lower-cased so that matching is case-insensitive.
/// Only ASCII letters are folded: Unicode lower-casing would make distinct
/// addresses equal (the Kelvin sign `K` folds to `k`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The longest address accepted, in characters as sent (RFC 5321 allows 254).
    pub const MAX_CHARS: usize = 254;
    /// The longest part before the `@` (RFC 5321).
    pub const MAX_LOCAL_CHARS: usize = 64;

    /// Lengths count characters of the value as sent, as the OpenAPI
    /// document's `maxLength` and `pattern` do (see [`Email::pattern`]).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let bad = || InvalidValue(format!("{trimmed:?} is not a valid email address"));
        if raw.chars().count() > Self::MAX_CHARS
            || trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty()
            || local.chars().count() > Self::MAX_LOCAL_CHARS
            || local.contains('@')
            || !domain_ok
        {
            return Err(bad());
        }
        // ASCII folding only: Unicode lower-casing would make distinct
        // addresses equal (the Kelvin sign `K` folds to `k`).
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    /// What [`Email::parse`] accepts, as a regex (with `maxLength` [`Email::MAX_CHARS`]).
    pub fn pattern() -> String {
        let (ws, bad, local) = (WHITE_SPACE, SPACE_OR_CONTROL, Self::MAX_LOCAL_CHARS);
        format!("^[{ws}]*[^@{bad}]{{1,{local}}}@[^@.{bad}]+(\\.[^@.{bad}]+)+[{ws}]*$")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `j***@example.com`: enough for the owner to recognise, little for anyone else.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(Self::MAX_CHARS))
            .pattern(Some(Self::pattern()))
            .description(Some(
                "An email address; matched after trimming, case-insensitively.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Email::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The short name of a CRM org (tenant): lower-case letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgSlug(String);

impl OrgSlug {
    /// What `parse` accepts, checked without building the slug.
    pub fn is_valid(raw: &str) -> bool {
        (2..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if Self::is_valid(raw) {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidValue(format!(
                "{raw:?} is not a valid org slug: use 2-63 lower-case letters, digits and dashes"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for OrgSlug {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl FromStr for Email {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(InvalidValue(format!(
                        "{other:?} is not one of: {}", [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // The OpenAPI schema lists the same texts `FromStr` accepts, so the two cannot drift.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        // Stored as its text in a TEXT column on every backend.
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<String as sqlx::Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

string_enum!(
    /// `user`: a user-managed Zoom app, one connection per Zoom user.
    /// `account`: an admin-managed (account-level) app, one connection per Zoom account.
    AppType { User => "user", Account => "account" }
);

string_enum!(
    ConnectionStatus { Active => "active", NeedsReauth => "needs_reauth", Revoked => "revoked" }
);

string_enum!(
    /// Where a token handed out by the token API came from.
    AuthType { Oauth => "oauth", S2s => "s2s", Jwt => "jwt" }
);

string_enum!(
    /// What an API key may do. `tokens:read`: the token API and reading
    /// connections; `connect`: connect sessions and disconnecting;
    /// `credentials`: S2S and JWT credentials; `admin`: operator calls;
    /// `zoom:proxy`: calls to Zoom's API through the broker's proxy.
    Scope {
        TokensRead => "tokens:read",
        Connect => "connect",
        Credentials => "credentials",
        Admin => "admin",
        ZoomProxy => "zoom:proxy",
    }
);

string_enum!(
    /// Zoom's rate-limit label of an API endpoint ("Rate Limit Label" in
    /// Zoom's API reference): each has its own budget per Zoom account.
    RateCategory {
        Light => "light",
        Medium => "medium",
        Heavy => "heavy",
        ResourceIntensive => "resource_intensive",
    }
);

impl RateCategory {
    /// Reads Zoom's `X-RateLimit-Category` value ("Light", "Resource-intensive").
    pub fn from_zoom_header(value: &str) -> Option<Self> {
        let folded = value.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        folded.parse().ok()
    }
}

impl Scope {
    /// Parses a comma- or space-separated list; empty means none, which is refused.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, InvalidValue> {
        let mut scopes = Vec::new();
        for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
            let scope: Scope = part.parse()?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(InvalidValue("at least one scope is needed".into()));
        }
        scopes.sort_by_key(|s| Scope::ALL.iter().position(|a| a == s));
        Ok(scopes)
    }

    /// The stored form: the scopes' texts, space-separated.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The scopes of a stored text; texts no longer known are skipped.
    pub fn split(stored: &str) -> Vec<Scope> {
        stored
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    }
}

string_enum!(
    /// What an audit entry records. The text is the stable name stored and shown.
    AuditAction {
        AdminSignedIn => "admin.signed_in",
        AdminSignedOut => "admin.signed_out",
        ApiKeyCreated => "api_key.created",
        ApiKeyRevoked => "api_key.revoked",
        AuthorizationAccountMismatch => "authorization.account_mismatch",
        AuthorizationMissingScopes => "authorization.missing_scopes",
        AuthorizationCancelled => "authorization.cancelled",
        AuthorizationEmailMismatch => "authorization.email_mismatch",
        AuthorizationFailed => "authorization.failed",
        AuthorizationNotAdmin => "authorization.not_admin",
        ConnectionCreated => "connection.created",
        ConnectionReauthorized => "connection.reauthorized",
        ConnectionDeauthorized => "connection.deauthorized",
        ConnectionDisconnected => "connection.disconnected",
        ConnectionNeedsReauth => "connection.needs_reauth",
        ConnectionRefreshFailed => "connection.refresh_failed",
        JwtCredentialsSet => "jwt_credentials.set",
        JwtCredentialsRemoved => "jwt_credentials.removed",
        S2sCredentialsSet => "s2s_credentials.set",
        S2sCredentialsRemoved => "s2s_credentials.removed",
        OauthAppSet => "oauth_app.set",
        OauthAppRemoved => "oauth_app.removed",
        SdkCredentialsSet => "sdk_credentials.set",
        SdkCredentialsRemoved => "sdk_credentials.removed",
    }
);

string_enum!(
    /// How one of an org's Zoom account entries stands: `ok` (S2S),
    /// `jwt_expiring` (a legacy JWT key before the cutoff), `jwt_expired`
    /// (a legacy JWT key past the cutoff: Zoom refuses it).
    AccountStatus { Ok => "ok", JwtExpiring => "jwt_expiring", JwtExpired => "jwt_expired" }
);

string_enum!(
    /// How the audited action ended.
    AuditOutcome {
        Success => "success",
        Partial => "partial",
        Noop => "noop",
        Refused => "refused",
        Failure => "failure",
    }
);

string_enum!(
    /// What an event to the CRM reports (issue 12, Standard Webhooks v1).
    EventType {
        ConnectionCreated => "connection.created",
        ConnectionReauthorized => "connection.reauthorized",
        ConnectionNeedsReauth => "connection.needs_reauth",
        ConnectionRevoked => "connection.revoked",
        ConnectionDeleted => "connection.deleted",
    }
);

string_enum!(
    /// Where an event's delivery stands: `failed` once retries gave up.
    DeliveryStatus { Pending => "pending", Delivered => "delivered", Failed => "failed" }
);

/// Who did something, as the audit log names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey(String),
    Admin(Email),
    /// The CRM user going through the connect flow.
    User(Email),
    Zoom,
    Cli,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(id) => write!(f, "api_key:{id}"),
            Self::Admin(email) => write!(f, "admin:{email}"),
            Self::User(email) => write!(f, "user:{email}"),
            Self::Zoom => f.write_str("zoom"),
            Self::Cli => f.write_str("cli"),
        }
    }
}

/// Where the browser goes back to after authorization: an absolute http(s)
/// URL on an allow-listed origin, so we are never an open redirector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(url::Url);

impl ReturnTo {
    pub fn parse(raw: &str, allowed: &[url::Origin]) -> Result<Self, InvalidValue> {
        let invalid = |why: &str| {
            InvalidValue(format!(
                "return_to {why}; allowed origins are set in TOKENBROKER_RETURN_ORIGINS"
            ))
        };
        let url = url::Url::parse(raw.trim()).map_err(|_| invalid("is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(invalid("must be a plain http(s) URL"));
        }
        if !allowed.contains(&url.origin()) {
            return Err(invalid("is not on an allowed origin"));
        }
        Ok(Self(url))
    }

    /// A value stored after it was checked; the allow-list may have changed since,
    /// but the URL was ours to accept when the session was made.
    pub fn from_stored(raw: &str) -> Option<Self> {
        url::Url::parse(raw).ok().map(Self)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL with these query pairs set, replacing any earlier value of the same name.
    pub fn with_params(&self, pairs: &[(&str, &str)]) -> url::Url {
        let mut url = self.0.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !pairs.iter().any(|(name, _)| name == k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() || !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(kept).extend_pairs(pairs);
        }
        url
    }
}

/// The schema of a word: 1 to 254 characters, spaces only around it, no
/// control characters (the `email_prefix` filter).
pub fn word_schema_254() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(254))
        .pattern(Some(format!(
            "^[{WHITE_SPACE}]*[^{SPACE_OR_CONTROL}]+[{WHITE_SPACE}]*$"
        )))
        .build()
}

/// RFC 3339 in UTC, as every API answer spells instants.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_case_folded() {
        let e = Email::parse("  Jane.Doe@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "jane.doe@example.com");
        assert_eq!(e, Email::parse("jane.doe@example.com").unwrap());
        assert_eq!(e.masked(), "j***@example.com");
    }

    #[test]
    fn only_ascii_letters_are_case_folded() {
        let kelvin = Email::parse("\u{212A}ate@example.com").unwrap();
        assert_ne!(kelvin, Email::parse("kate@example.com").unwrap());
        assert_eq!(kelvin.as_str(), "\u{212A}ate@example.com");
        let sharp = Email::parse("STRA\u{1E9E}E@example.com").unwrap();
        assert_ne!(sharp, Email::parse("strasse@example.com").unwrap());
    }

    #[test]
    fn bad_emails_are_refused() {
        for bad in [
            "", "x", "@a.b", "a@", "a@b", "a b@c.d", "a@.b", "a@b..c", "a@b.c.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn org_slugs() {
        assert!(OrgSlug::parse("acme-corp").is_ok());
        for bad in ["A", "a", "-ab", "ab-", "a_b", "Acme", "a/b", ""] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn return_to_replaces_an_earlier_status() {
        let allowed = [url::Url::parse("https://crm.example.com").unwrap().origin()];
        let r = ReturnTo::parse("https://crm.example.com/z?status=x&keep=1", &allowed).unwrap();
        let url = r.with_params(&[("status", "connected")]);
        assert_eq!(
            url.as_str(),
            "https://crm.example.com/z?keep=1&status=connected"
        );
        assert!(ReturnTo::parse("https://evil.example.com/", &allowed).is_err());
        assert!(ReturnTo::parse("https://u:p@crm.example.com/", &allowed).is_err());
        assert!(ReturnTo::parse("javascript:alert(1)", &allowed).is_err());
    }

    #[test]
    fn actors_and_actions_print_their_stable_names() {
        let email = Email::parse("a@b.example").unwrap();
        assert_eq!(Actor::Admin(email).to_string(), "admin:a@b.example");
        assert_eq!(Actor::ApiKey("k1".into()).to_string(), "api_key:k1");
        assert_eq!(
            AuditAction::ConnectionNeedsReauth.as_str(),
            "connection.needs_reauth"
        );
        assert_eq!(
            "connection.needs_reauth".parse::<AuditAction>().unwrap(),
            AuditAction::ConnectionNeedsReauth
        );
    }

    #[test]
    fn enums_round_trip() {
        assert_eq!("account".parse::<AppType>().unwrap(), AppType::Account);
        assert!("admin".parse::<AppType>().is_err());
        assert_eq!(ConnectionStatus::NeedsReauth.as_str(), "needs_reauth");
    }
}

//! The Meeting SDK request bodies, shared by the API and the console.

use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::ToSchema;

use crate::domain::Required;
use crate::error::ApiError;
use crate::service::sdk::{SdkApp, SignatureRequest};

use super::bodies::{key_text, secret_text};
use super::invalid;

const KEY_MAX: usize = 256;
const SECRET_MAX: usize = 512;

/// Zoom's limits for a Meeting SDK token: `tokenExp` at least 30 minutes
/// after `iat`, at most 48 hours.
pub const SDK_LIFETIME_MIN: i64 = 1800;
pub const SDK_LIFETIME_MAX: i64 = 172_800;
pub const SDK_LIFETIME_DEFAULT: i64 = 7200;

/// A Meeting SDK app's key and secret.
#[derive(Deserialize, ToSchema)]
#[schema(as = SdkCredentials)]
pub struct SdkBody {
    #[schema(schema_with = key_text)]
    sdk_key: String,
    #[schema(schema_with = secret_text)]
    sdk_secret: String,
}

impl SdkBody {
    pub fn parse(self) -> Result<SdkApp, ApiError> {
        let field = |name: &str, value: &str, max: usize| {
            Required::parse(name, value, max).map_err(invalid("invalid_field"))
        };
        Ok(SdkApp {
            sdk_key: field("sdk_key", &self.sdk_key, KEY_MAX)?,
            sdk_secret: field("sdk_secret", &self.sdk_secret, SECRET_MAX)?,
        })
    }
}

/// A meeting or webinar number: a JSON integer or a string of 9 to 11
/// digits. (The body itself takes any JSON value here, so that every wrong
/// one gets `invalid_meeting_number`.)
fn meeting_number_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(100_000_000))
        .maximum(Some(99_999_999_999_i64));
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]{9,11}$"));
    Schema::OneOf(OneOfBuilder::new().item(number).item(text).build())
}

/// What a Meeting SDK signature is for.
#[derive(Deserialize, ToSchema)]
#[schema(as = SdkSignatureRequest)]
pub struct SignatureBody {
    /// The meeting or webinar number: 9 to 11 digits, as an integer or a string.
    #[schema(schema_with = meeting_number_schema)]
    meeting_number: serde_json::Value,
    /// `0` joins as an attendee, `1` as the host.
    #[schema(value_type = i64, minimum = 0, maximum = 1)]
    role: serde_json::Value,
    /// The signature's lifetime, 1800 to 172800 seconds (Zoom's limits); 7200 when absent.
    #[schema(value_type = Option<i64>, minimum = 1800, maximum = 172800)]
    #[serde(default)]
    expires_in_secs: Option<serde_json::Value>,
}

impl SignatureBody {
    pub fn parse(self) -> Result<SignatureRequest, ApiError> {
        use serde_json::Value;
        let digits = match self.meeting_number {
            Value::String(text) => text,
            other => whole(&other).map_or_else(|| other.to_string(), |n| n.to_string()),
        };
        if !(9..=11).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::bad_request(
                "invalid_meeting_number",
                format!("meeting_number must be 9 to 11 digits, not {digits:?}"),
            ));
        }
        let role = match whole(&self.role) {
            Some(0) => 0,
            Some(1) => 1,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_role",
                    format!("role must be 0 (attendee) or 1 (host), not {}", self.role),
                ))
            }
        };
        let lifetime = match &self.expires_in_secs {
            None | Some(serde_json::Value::Null) => Some(SDK_LIFETIME_DEFAULT),
            Some(value) => whole(value),
        };
        let lifetime_secs = lifetime.unwrap_or(-1);
        if !(SDK_LIFETIME_MIN..=SDK_LIFETIME_MAX).contains(&lifetime_secs) {
            return Err(ApiError::bad_request(
                "invalid_expires_in_secs",
                format!(
                    "expires_in_secs must be a whole number of seconds between {SDK_LIFETIME_MIN} and {SDK_LIFETIME_MAX} (Zoom's limits), not {}",
                    self.expires_in_secs.unwrap_or_default()
                ),
            ));
        }
        Ok(SignatureRequest {
            meeting_number: digits,
            role,
            lifetime_secs,
        })
    }
}

/// A JSON number with no fractional part (`5` or `5.0`, as JSON Schema's
/// `integer` allows), as an integer.
fn whole(value: &serde_json::Value) -> Option<i64> {
    let n = value.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
}

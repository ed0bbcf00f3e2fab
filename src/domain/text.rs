//! Free text from callers: what may be stored, and the OpenAPI schema that
//! says exactly that.

use std::fmt;

use super::{InvalidValue, WHITE_SPACE};

/// A required text field: trimmed, present, and not absurdly long.
#[derive(Clone, PartialEq, Eq)]
pub struct Required(String);

impl Required {
    /// `max` counts characters of the value as sent, as the OpenAPI `maxLength` does.
    pub fn parse(field: &str, raw: &str, max: usize) -> Result<Self, InvalidValue> {
        if raw.chars().count() > max {
            return Err(InvalidValue(format!(
                "{field} is longer than {max} characters"
            )));
        }
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue(format!("{field} is required")));
        }
        // PostgreSQL cannot store NUL in text; refuse it here, as a 400.
        if value.contains('\0') {
            return Err(InvalidValue(format!("{field} contains a NUL character")));
        }
        Ok(Self(value.to_string()))
    }

    /// What [`Required::parse`] accepts with this `max`, as an OpenAPI string schema.
    pub fn schema(max: usize) -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(max))
            .pattern(Some(format!(r"^[^\x00]*[^{WHITE_SPACE}\x00][^\x00]*$")))
            .build()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Secrets never print, even in debug output.
impl fmt::Debug for Required {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Required(..)")
    }
}

/// A key's label, for humans: one line, trimmed, at most [`Label::MAX_CHARS`]
/// characters as sent. Control characters, the Unicode line and paragraph
/// separators and the bidirectional overrides are refused rather than
/// stripped, so what the list shows is what was sent: PostgreSQL could not
/// store NUL anyway, a line break would forge lines in `api-key list`'s
/// output, and an override would show the text in another order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    pub const MAX_CHARS: usize = 200;

    /// A blank label is no label: `Ok(None)`.
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidValue> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "a label is at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if raw
            .chars()
            .any(|c| c.is_control() || Self::breaks_the_line(c))
        {
            return Err(InvalidValue(
                "a label is one line of text, without control characters or direction overrides"
                    .into(),
            ));
        }
        let value = raw.trim();
        Ok((!value.is_empty()).then(|| Self(value.to_string())))
    }

    fn breaks_the_line(c: char) -> bool {
        matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }

    /// What [`Label::parse`] accepts, as an OpenAPI string schema.
    pub fn schema() -> utoipa::openapi::schema::Object {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::schema::Type::String,
                utoipa::openapi::schema::Type::Null,
            ]))
            .max_length(Some(Self::MAX_CHARS))
            .pattern(Some(
                r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$".to_string(),
            ))
            .description(Some(format!(
                "For humans: one line, at most {} characters, trimmed; blank is none.",
                Self::MAX_CHARS
            )))
            .build()
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

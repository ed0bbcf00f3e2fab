//! The path of a proxied Zoom API call, parsed at the edge so that the
//! target can only ever be under `ZOOM_API_URL`.
//!
//! The path is taken as the caller sent it, still percent-encoded, and is
//! sent on exactly so (Zoom asks for meeting UUIDs that contain `/` to be
//! encoded twice, which only works if nobody decodes them in between).
//! Anything that could move the target is refused rather than cleaned up:
//! dot segments, plain or encoded; encoded slashes or backslashes; empty
//! segments (`//host`); `@` and a scheme (`https:`); control characters,
//! spaces and anything outside RFC 3986's path characters; broken escapes.

use crate::domain::InvalidValue;

/// A relative path under `ZOOM_API_URL`, as sent, without a leading `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoomPath(String);

/// The longest path accepted; Zoom's own are far shorter.
pub const MAX_PATH_LEN: usize = 2048;

impl ZoomPath {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let refuse = |why: &str| Err(InvalidValue(format!("the Zoom API path {why}")));
        if raw.is_empty() {
            return refuse("is empty");
        }
        if raw.len() > MAX_PATH_LEN {
            return refuse("is too long");
        }
        if let Some(bad) = raw.bytes().find(|b| !allowed(*b)) {
            return match bad {
                b'\\' => refuse("contains a backslash"),
                b'@' => refuse("contains '@' (send it as %40)"),
                b if b < 0x20 || b == 0x7f => refuse("contains a control character"),
                _ => refuse("contains a character that must be percent-encoded"),
            };
        }
        for segment in raw.split('/') {
            if segment.is_empty() {
                return refuse("has an empty segment (// or a leading or trailing /)");
            }
            let decoded = decode(segment).ok_or_else(|| {
                InvalidValue("the Zoom API path has a broken %-escape".to_string())
            })?;
            if decoded == b"." || decoded == b".." {
                return refuse("has a dot segment");
            }
            if decoded.iter().any(|b| matches!(b, b'/' | b'\\')) {
                return refuse("has an encoded slash or backslash");
            }
            if decoded.iter().any(|b| *b < 0x20 || *b == 0x7f) {
                return refuse("has an encoded control character");
            }
        }
        if raw
            .split('/')
            .next()
            .is_some_and(|first| first.contains(':'))
        {
            return refuse("looks like a URL: send only the path under the API base");
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 3986 `pchar` and `/`, without `@`, which has no place in Zoom's paths
/// and in a URL marks credentials.
fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'/'
        )
}

/// Percent-decodes one segment; `None` for a broken escape.
fn decode(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::ZoomPath;

    #[test]
    fn ordinary_and_double_encoded_paths_pass_unchanged() {
        for ok in [
            "users/me",
            "users/me/meetings",
            "past_meetings/%252Fab%253D%253D/participants",
            "users/jane%40example.com",
            "meetings/123/recordings",
        ] {
            assert_eq!(ZoomPath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn every_way_out_is_refused() {
        for bad in [
            "",
            "../oauth/token",
            "users/../../x",
            "users/%2e%2e/x",
            "users/%2E%2e/x",
            "users/.",
            "%2e",
            "users%2fme",
            "users%2Fme",
            "users%5cme",
            "/evil.example/x",
            "users//me",
            "users/me/",
            "user@evil.example/x",
            "https:/evil.example/x",
            "http:",
            "users\\..\\x",
            "users/me\r\nHost: evil",
            "users/me\t",
            "users/%0d%0a",
            "users/%00",
            "users/%zz",
            "users/%4",
            "users/me?x",
            "users/me#x",
            "users/mé",
            "users/ me",
        ] {
            assert!(ZoomPath::parse(bad).is_err(), "{bad:?} passed");
        }
        assert!(ZoomPath::parse(&"a/".repeat(1100)).is_err());
    }
}

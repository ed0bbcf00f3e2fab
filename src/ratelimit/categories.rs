//! Which rate-limit label a Zoom API call carries.
//!
//! Zoom's API reference gives each endpoint a "Rate Limit Label". This table
//! holds the endpoints CRMs call most; `{}` matches one path segment. Add a
//! row to extend it. A call no row matches counts as Heavy: the most
//! conservative label with a per-second limit, so an unknown endpoint can
//! slow down but never push an account over a limit it really has.

use crate::domain::RateCategory;

use RateCategory::{Heavy, Light, Medium, ResourceIntensive};

/// `(method, path pattern under /v2, label)`; the first match wins.
const TABLE: &[(&str, &str, RateCategory)] = &[
    ("GET", "/users/me", Light),
    ("GET", "/users/{}", Light),
    ("GET", "/users", Medium),
    ("PATCH", "/users/{}", Light),
    ("GET", "/users/{}/settings", Medium),
    ("GET", "/users/{}/meetings", Medium),
    ("POST", "/users/{}/meetings", Medium),
    ("GET", "/meetings/{}", Light),
    ("PATCH", "/meetings/{}", Light),
    ("DELETE", "/meetings/{}", Light),
    ("GET", "/meetings/{}/registrants", Medium),
    ("POST", "/meetings/{}/registrants", Light),
    ("GET", "/meetings/{}/recordings", Light),
    ("GET", "/users/{}/recordings", Medium),
    ("GET", "/past_meetings/{}", Light),
    ("GET", "/past_meetings/{}/participants", Medium),
    ("GET", "/users/{}/webinars", Medium),
    ("POST", "/users/{}/webinars", Medium),
    ("GET", "/webinars/{}", Light),
    ("PATCH", "/webinars/{}", Light),
    ("GET", "/webinars/{}/registrants", Medium),
    ("POST", "/webinars/{}/registrants", Light),
    ("GET", "/report/{}", Heavy),
    ("GET", "/report/{}/{}", Heavy),
    ("GET", "/report/{}/{}/{}", Heavy),
    ("GET", "/metrics/{}", ResourceIntensive),
    ("GET", "/metrics/{}/{}", ResourceIntensive),
    ("GET", "/metrics/{}/{}/{}", ResourceIntensive),
];

/// The label for an unknown endpoint.
pub const DEFAULT_CATEGORY: RateCategory = Heavy;

/// How a proxied call is classified: its label, and the pattern it matched
/// (`other` when none), which is what logs and traces show instead of the
/// path, whose segments may be user ids or emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub category: RateCategory,
    pub pattern: &'static str,
}

/// Classifies `method` on `path`, the part after `/v2` (`/users/me/meetings`).
pub fn classify(method: &str, path: &str) -> Classified {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (m, pattern, category) in TABLE {
        if m.eq_ignore_ascii_case(method) && matches(pattern, &segments) {
            return Classified {
                category: *category,
                pattern,
            };
        }
    }
    Classified {
        category: DEFAULT_CATEGORY,
        pattern: "other",
    }
}

fn matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| *p == "{}" || p.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_endpoints_get_zooms_labels() {
        assert_eq!(classify("GET", "/users/me").category, Light);
        assert_eq!(classify("get", "/users/u_1/meetings").category, Medium);
        assert_eq!(
            classify("POST", "/users/me/meetings").pattern,
            "/users/{}/meetings"
        );
        assert_eq!(classify("GET", "/report/daily").category, Heavy);
        assert_eq!(
            classify("GET", "/metrics/meetings").category,
            ResourceIntensive
        );
    }

    #[test]
    fn unknown_endpoints_are_heavy() {
        let c = classify("PUT", "/phone/users/x");
        assert_eq!((c.category, c.pattern), (Heavy, "other"));
        assert_eq!(classify("GET", "/users/me/meetings/extra").pattern, "other");
    }
}

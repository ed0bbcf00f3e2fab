//! The HTTP side of the Zoom API proxy: where a call goes, which headers
//! cross, and the client that sends it.
//!
//! Its own client: no overall timeout (a 20 MB body takes what it takes;
//! the service bounds the wait for Zoom's headers and reqwest each read),
//! redirects never followed (Zoom's `3xx` go back to the caller as they
//! are), and no decompression, so bodies and their lengths pass unchanged.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Method;

use super::path::ZoomPath;

/// Headers that never reach Zoom: the caller's credentials and cookies,
/// hop-by-hop headers (RFC 9110 7.6.1), and where the caller is.
const NOT_FORWARDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "expect",
];

/// Headers of Zoom's answer that stay behind: hop-by-hop ones, and cookies
/// Zoom sets for itself, which are no business of the caller's.
const NOT_RETURNED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "set-cookie",
    "proxy-authenticate",
];

/// Our own request headers (`X-Tokenbroker-*`): read by the broker, not sent.
pub const OWN_PREFIX: &str = "x-tokenbroker-";

/// What may be sent with a proxied call.
pub enum OutBody {
    Empty,
    /// Held whole, so the call can be sent again.
    Buffered(bytes::Bytes),
    /// Streamed from the caller as it arrives: sent once, never again.
    Streamed(reqwest::Body),
}

#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    api_base: String,
    base: url::Url,
    /// `base`'s path with one trailing `/`: every target's path starts so.
    base_path: String,
}

impl ProxyClient {
    pub fn new(api_base: &url::Url, connect_timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout.min(Duration::from_secs(5)))
            .read_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("tokenbroker/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is static and valid");
        let trimmed = api_base.as_str().trim_end_matches('/').to_string();
        let base = url::Url::parse(&trimmed).expect("ZOOM_API_URL was parsed as a URL");
        let base_path = format!("{}/", base.path().trim_end_matches('/'));
        Self {
            http,
            api_base: trimmed,
            base,
            base_path,
        }
    }

    /// `ZOOM_API_URL/{path}?{query}`. The parsed result is checked to be
    /// under the base as well: the path's own checks are the rule, this is
    /// the belt to their braces.
    pub fn target(&self, path: &ZoomPath, query: Option<&str>) -> Option<url::Url> {
        let mut text = format!("{}/{}", self.api_base, path.as_str());
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            if query.bytes().any(|b| b < 0x21 || b == 0x7f || b == b'#') {
                return None;
            }
            text.push('?');
            text.push_str(query);
        }
        let url = url::Url::parse(&text).ok()?;
        let under = url.origin() == self.base.origin()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().starts_with(&self.base_path);
        under.then_some(url)
    }

    /// Sends one call with `token`; Zoom's answer, headers first, body to stream.
    pub async fn send(
        &self,
        method: Method,
        url: url::Url,
        headers: HeaderMap,
        body: OutBody,
        token: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"));
        bearer.set_sensitive(true);
        let request = self
            .http
            .request(method, url)
            .headers(headers)
            .header(AUTHORIZATION, bearer);
        let request = match body {
            OutBody::Empty => request,
            OutBody::Buffered(bytes) => request.body(bytes),
            OutBody::Streamed(body) => request.body(body),
        };
        request.send().await
    }
}

/// The caller's headers that go on to Zoom.
pub fn forwarded_headers(from: &HeaderMap, streamed: bool) -> HeaderMap {
    let named_by_connection = connection_tokens(from);
    let mut out = HeaderMap::new();
    for (name, value) in from {
        let text = name.as_str();
        let keep = !NOT_FORWARDED.contains(&text)
            && !text.starts_with(OWN_PREFIX)
            && !named_by_connection.iter().any(|n| n == text)
            // A held body's length is set again from the bytes themselves.
            && (text != "content-length" || streamed);
        if keep {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Zoom's headers that go back to the caller.
pub fn returned_headers(from: &HeaderMap) -> HeaderMap {
    let named_by_connection = connection_tokens(from);
    let mut out = HeaderMap::new();
    for (name, value) in from {
        let text = name.as_str();
        if !NOT_RETURNED.contains(&text) && !named_by_connection.iter().any(|n| n == text) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Header names listed in `Connection`, which are hop-by-hop too.
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| HeaderName::from_bytes(t.as_bytes()).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ProxyClient {
        ProxyClient::new(
            &"https://api.zoom.us/v2".parse().unwrap(),
            Duration::from_secs(1),
        )
    }

    #[test]
    fn targets_stay_under_the_base() {
        let c = client();
        let path = ZoomPath::parse("users/me/meetings").unwrap();
        let url = c
            .target(&path, Some("page_size=30&type=scheduled"))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.zoom.us/v2/users/me/meetings?page_size=30&type=scheduled"
        );
        assert!(c.target(&path, Some("a=b#frag")).is_none());
        assert!(c.target(&path, Some("a=b c")).is_none());
    }

    #[test]
    fn credentials_and_hop_by_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer tb_key"),
            ("cookie", "session=1"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("x-tokenbroker-deadline-ms", "500"),
            ("content-type", "application/json"),
            ("content-length", "12"),
            ("accept", "application/json"),
        ] {
            h.insert(HeaderName::from_static(k), v.parse().unwrap());
        }
        let out = forwarded_headers(&h, false);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["content-type", "accept"]);
        assert!(forwarded_headers(&h, true).contains_key("content-length"));
    }
}

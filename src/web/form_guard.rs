//! Forms that only their own page can submit.
//!
//! A one-time link (connect, admin sign-in) must not be used by a GET alone:
//! mail scanners and link previews fetch links, and any third-party page can
//! drive a browser through one. So the GET shows a page whose form carries a
//! random token that is also set in a `SameSite=Strict` cookie; the POST is
//! accepted only when both match (a cross-site POST carries no Strict
//! cookie) and the browser does not call it cross-origin.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::crypto::{ct_eq, random_token, sha256_hex};

use super::cookies::Cookies;

/// The cookie for one link: named after the link, so two tabs do not collide.
pub fn cookie_name(kind: &str, link_token: &str) -> String {
    format!("tb_{kind}_{}", &sha256_hex(link_token.as_bytes())[..16])
}

/// Sets a fresh form token for the page about to be shown; returns it for the form.
pub fn issue(cookies: Cookies, name: String, path: String, secure: bool) -> (Cookies, String) {
    let token = random_token();
    let cookie = Cookie::build((name, token.clone()))
        .path(path)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::minutes(15))
        .build();
    (cookies.with(cookie), token)
}

/// Why a form submission was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    CrossSite,
    NoToken,
}

/// Accepts the POST only from the page that `issue` served to this browser.
pub fn verify(
    cookies: &Cookies,
    headers: &HeaderMap,
    name: &str,
    presented: &str,
    public_url: &url::Url,
) -> Result<(), Refusal> {
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
    // for same-origin POSTs; then Sec-Fetch-Site and the Strict cookie decide.
    if let Some(origin) = header("origin").filter(|o| *o != "null") {
        if origin != public_url.origin().ascii_serialization() {
            return Err(Refusal::CrossSite);
        }
    }
    if matches!(header("sec-fetch-site"), Some(site) if site != "same-origin") {
        return Err(Refusal::CrossSite);
    }
    match cookies.get(name) {
        Some(expected)
            if !presented.is_empty() && ct_eq(expected.as_bytes(), presented.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(Refusal::NoToken),
    }
}

/// `verify`; on refusal, the readable 403 page that explains where to click instead.
pub fn refusal_page(
    cookies: &Cookies,
    headers: &HeaderMap,
    name: &str,
    presented: &str,
    public_url: &url::Url,
    (title, why): (&str, &str),
) -> Option<axum::response::Response> {
    let refusal = verify(cookies, headers, name, presented, public_url).err()?;
    tracing::warn!(?refusal, form = name, "form submission refused");
    Some(super::pages::start_again(
        axum::http::StatusCode::FORBIDDEN,
        title,
        why,
    ))
}

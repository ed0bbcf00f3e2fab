//! Readable pages for people in a browser. maud escapes every interpolated
//! value, so nothing from a query string is echoed raw.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

/// No scripts, no third-party anything: styles come from our own origin.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone, Copy)]
pub enum Tone {
    Success,
    Warning,
    Error,
    Info,
}

pub fn page(status: StatusCode, tone: Tone, title: &str, body: Markup) -> Response {
    render(status, tone, title, body, None)
}

/// A page whose form's POST answers with a redirect to `redirect_origin`:
/// `form-action` must allow that origin, or the browser stops the redirect.
pub fn form_page(title: &str, body: Markup, redirect_origin: Option<&str>) -> Response {
    render(StatusCode::OK, Tone::Info, title, body, redirect_origin)
}

fn render(
    status: StatusCode,
    tone: Tone,
    title: &str,
    body: Markup,
    redirect_origin: Option<&str>,
) -> Response {
    let (class, icon) = match tone {
        Tone::Success => ("tone-success", "✓"),
        Tone::Warning => ("tone-warning", "⚠"),
        Tone::Error => ("tone-error", "✕"),
        Tone::Info => ("tone-info", "→"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Zoom connection" }
                link rel="stylesheet" href="/admin/style.css";
            }
            body.page {
                main.card.(class) role="main" {
                    div.icon aria-hidden="true" { (icon) }
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    let mut response = (status, markup).into_response();
    let csp = match redirect_origin {
        None => HeaderValue::from_static(PAGE_CSP),
        Some(origin) => HeaderValue::from_str(&PAGE_CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ))
        .unwrap_or(HeaderValue::from_static(PAGE_CSP)),
    };
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, csp);
    response
}

pub fn start_again(status: StatusCode, title: &str, why: &str) -> Response {
    page(
        status,
        Tone::Warning,
        title,
        html! {
            p { (why) }
            p { "Go back to your CRM's Zoom settings and click " strong { "Authorize from Zoom App Marketplace" } " to start again." }
        },
    )
}

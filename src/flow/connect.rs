//! `/connect/{token}`: a GET shows which org and CRM user the authorization
//! is for; only the page's own POST uses the link and goes to Zoom. A link
//! alone (opened by a scanner, or driven by another site) never reaches Zoom.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use maud::html;

use crate::app::AppState;
use crate::domain::AppType;
use crate::service::connect::{self, PENDING_TTL_SECS};
use crate::service::{Claim, ServiceError};
use crate::web::cookies::Cookies;
use crate::web::form_guard;
use crate::web::pages::{form_page, page, start_again, Tone};

use super::binding_cookie_name;

const FORM_KIND: &str = "connect";

/// `GET /connect/{token}`
pub async fn show(
    State(app): State<AppState>,
    cookies: Cookies,
    Path(token): Path<String>,
) -> Response {
    let preview = match connect::preview(&app, &token).await {
        Ok(Claim::Claimed(preview)) => preview,
        Ok(other) => return link_problem(&other),
        Err(err) => return internal(&err),
    };
    let (cookies, form_token) = form_guard::issue(
        cookies,
        form_guard::cookie_name(FORM_KIND, &token),
        format!("/connect/{token}"),
        app.config.secure_cookies(),
    );
    let kind = match preview.app_type {
        AppType::User => "your own Zoom account (user-level)",
        AppType::Account => {
            "your Zoom account for the whole org (account-level; a Zoom Owner or Admin approves)"
        }
    };
    let zoom_origin = app.config.zoom_oauth_url.origin().ascii_serialization();
    let body = html! {
        p { "You are about to connect Zoom to your CRM." }
        dl {
            dt { "CRM org" } dd { (preview.org_name) }
            dt { "CRM user" } dd { (preview.email) }
            dt { "Connects" } dd { (kind) }
        }
        p { "On Zoom, approve the app with the Zoom account that uses " strong { (preview.email) } ". Any other account will be refused." }
        form method="post" action={ "/connect/" (token) } {
            input type="hidden" name="form_token" value=(form_token);
            @if !preview.products.is_empty() {
                fieldset.products {
                    legend { "Select the Zoom products you integrate, then Confirm" }
                    @for product in &preview.products {
                        label.product {
                            input type="checkbox" name="product" value=(product.name) checked[product.checked];
                            " " strong { (product.name) }
                            " " small { "(" (product.scopes.join(", ")) ")" }
                        }
                        br;
                    }
                }
            }
            @if !preview.required_scopes.is_empty() {
                p.required { "Zoom must grant: " code { (preview.required_scopes.join(" ")) } ". An approval without them is refused and nothing is saved." }
            }
            button.primary type="submit" {
                @if preview.products.is_empty() { "Continue to Zoom" } @else { "Confirm and continue to Zoom" }
            }
        }
    };
    (cookies, form_page("Connect Zoom", body, Some(&zoom_origin))).into_response()
}

/// The page's form: its token, and a `product` field per ticked box (a list
/// the derive cannot read, hence the pairs).
pub struct Confirm {
    form_token: String,
    products: Vec<String>,
}

impl Confirm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = Self {
            form_token: String::new(),
            products: Vec::new(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "form_token" => form.form_token = value,
                "product" => form.products.push(value),
                _ => {}
            }
        }
        form
    }
}

/// `POST /connect/{token}`: uses the link and sends the browser to Zoom.
pub async fn confirm(
    State(app): State<AppState>,
    cookies: Cookies,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = Confirm::from_pairs(pairs);
    let form_cookie = form_guard::cookie_name(FORM_KIND, &token);
    let explain = (
        "Please confirm on the connect page",
        "The authorization can only be started from its own page in this browser. Open the link from your CRM again and click Continue.",
    );
    if let Some(page) = form_guard::refusal_page(
        &cookies,
        &headers,
        &form_cookie,
        &form.form_token,
        &app.config.public_url,
        explain,
    ) {
        return page;
    }
    let to_zoom = match connect::begin(&app, &token, &form.products).await {
        Ok(Claim::Claimed(to_zoom)) => to_zoom,
        Ok(other) => return link_problem(&other),
        Err(ServiceError::Invalid { message, .. }) => return choose_again(&token, &message),
        Err(err) => return internal(&err),
    };
    let binding = Cookie::build((binding_cookie_name(&to_zoom.state_hash), to_zoom.state))
        .path("/oauth/callback")
        .http_only(true)
        .secure(app.config.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(PENDING_TTL_SECS))
        .build();
    let cookies = cookies
        .without(Cookie::build(form_cookie).path(format!("/connect/{token}")))
        .with(binding);
    tracing::info!(session_id = %to_zoom.session_id, app_type = %to_zoom.app_type,
        products = ?to_zoom.products.iter().map(|p| p.as_str()).collect::<Vec<_>>(), "redirecting to Zoom");
    let location = [(header::LOCATION, to_zoom.authorize_url.to_string())];
    (StatusCode::SEE_OTHER, cookies, location).into_response()
}

fn link_problem<T>(claim: &Claim<T>) -> Response {
    match claim {
        Claim::AlreadyUsed => start_again(
            StatusCode::GONE,
            "This link was already used",
            "Each Zoom authorization link works once.",
        ),
        Claim::Expired => start_again(
            StatusCode::GONE,
            "This link has expired",
            "Zoom authorization links are valid for 10 minutes.",
        ),
        Claim::Unknown | Claim::Claimed(_) => start_again(
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "We do not recognise this authorization link.",
        ),
    }
}

/// A choice the service refused (no product ticked, or one not offered);
/// the link is still unused, so the page can be opened again.
fn choose_again(token: &str, message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        Tone::Warning,
        "Please choose what to connect",
        html! {
            p { (message) "." }
            p { a href={ "/connect/" (token) } { "Back to the connect page" } }
        },
    )
}

fn internal(err: &dyn std::fmt::Display) -> Response {
    tracing::error!(%err, "connect failed");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        Tone::Error,
        "Something went wrong",
        html! { p { "We could not start the Zoom authorization. Please try again in a minute." } },
    )
}

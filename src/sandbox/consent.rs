//! The sandbox's consent page: type an email, pick a role, Allow or Deny.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, DOCTYPE};
use serde::Deserialize;

use super::state::Code;
use super::SandboxState;
use crate::crypto::random_token;

const CODE_TTL_SECS: i64 = 300;

#[derive(Deserialize, Clone, Default)]
pub struct AuthorizeParams {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    decision: String,
}

fn error_page(message: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" { head { meta charset="utf-8"; title { "Zoom sandbox: error" } }
            body { h1 { "Zoom sandbox: this request cannot be authorized" } p { (message) } } }
    };
    (StatusCode::BAD_REQUEST, body).into_response()
}

/// The app and redirect URI must be registered, exactly; otherwise show an
/// error here and never redirect (an unregistered redirect is an open redirect).
fn refuse(sandbox: &SandboxState, p: &AuthorizeParams) -> Option<Response> {
    let world = sandbox.world();
    let Some(app) = world.clients.get(&p.client_id) else {
        return Some(error_page("Invalid client_id."));
    };
    if !app.redirect_uris.iter().any(|r| r == &p.redirect_uri) {
        return Some(error_page(
            "Invalid redirect: the redirect URL is not on the app's allow list.",
        ));
    }
    None
}

fn back_to_app(p: &AuthorizeParams, pairs: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(&p.redirect_uri) {
        Ok(url) => url,
        Err(_) => return error_page("Invalid redirect URL."),
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = &p.state {
            query.append_pair("state", state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

pub async fn show(
    State(sandbox): State<SandboxState>,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    if let Some(page) = refuse(&sandbox, &p) {
        return page;
    }
    if p.response_type != "code" {
        return back_to_app(&p, &[("error", "unsupported_response_type")]);
    }
    let hidden = [
        ("response_type", Some(p.response_type.as_str())),
        ("client_id", Some(p.client_id.as_str())),
        ("redirect_uri", Some(p.redirect_uri.as_str())),
        ("state", p.state.as_deref()),
        ("code_challenge", p.code_challenge.as_deref()),
        ("code_challenge_method", p.code_challenge_method.as_deref()),
        ("scope", p.scope.as_deref()),
    ];
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; title { "Zoom sandbox: authorize app" } }
            body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328" {
                p style="color:#0b5cff; font-weight:700; letter-spacing:.02em" { "zoom · sandbox" }
                h1 { "Allow this app to use your Zoom account?" }
                p { "App " code { (p.client_id) } " asks for: " strong { (p.scope.as_deref().filter(|s| !s.is_empty()).unwrap_or("the app's default scopes")) } }
                form method="post" action="/oauth/authorize" {
                    @for (name, value) in hidden {
                        @if let Some(value) = value { input type="hidden" name=(name) value=(value); }
                    }
                    p { label for="email" { "Your Zoom email" } br; input #email type="email" name="email" required autocomplete="email" style="width:100%; padding:.5rem"; }
                    p { label for="role" { "Your role in the Zoom account" } br;
                        select #role name="role" style="padding:.5rem" {
                            option value="Owner" { "Owner" } option value="Admin" { "Admin" } option value="Member" selected { "Member" }
                        }
                    }
                    p { button #allow type="submit" name="decision" value="allow" style="padding:.5rem 1.25rem; background:#0b5cff; color:#fff; border:0; border-radius:6px" { "Allow" }
                        " " button #deny type="submit" name="decision" value="deny" formnovalidate style="padding:.5rem 1.25rem" { "Deny" } }
                }
            }
        }
    };
    page.into_response()
}

pub async fn decide(State(sandbox): State<SandboxState>, Form(d): Form<Decision>) -> Response {
    if let Some(page) = refuse(&sandbox, &d.params) {
        return page;
    }
    sandbox.world().counters.authorize_decisions += 1;
    if d.decision != "allow" {
        return back_to_app(
            &d.params,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied the authorization."),
            ],
        );
    }
    // Zoom answers /users/me with the email as the account has it; folding it
    // here would hide the broker's own matching from the tests.
    let email = d.email.trim().to_string();
    if !email.contains('@') {
        return error_page("Type the email of your Zoom account.");
    }
    let role = match d.role.as_str() {
        "Owner" | "Admin" => d.role.clone(),
        _ => "Member".to_string(),
    };
    let method = d
        .params
        .code_challenge_method
        .clone()
        .unwrap_or_else(|| "plain".into());
    if d.params.code_challenge.is_some() && !matches!(method.as_str(), "S256" | "plain") {
        return back_to_app(
            &d.params,
            &[
                ("error", "invalid_request"),
                ("error_description", "Unsupported code_challenge_method."),
            ],
        );
    }
    let code = random_token();
    {
        let mut world = sandbox.world();
        world.upsert_user(&email, &role);
        let expires_at = world.now() + CODE_TTL_SECS;
        world.codes.insert(
            code.clone(),
            Code {
                client_id: d.params.client_id.clone(),
                redirect_uri: d.params.redirect_uri.clone(),
                challenge: d.params.code_challenge.clone(),
                method,
                user_email: email,
                scopes: d
                    .params
                    .scope
                    .clone()
                    .unwrap_or_else(|| "user:read meeting:write".into()),
                expires_at,
                used: false,
                grant_id: None,
            },
        );
    }
    back_to_app(&d.params, &[("code", &code)])
}

//! `/oauth/token` and `/oauth/revoke`, with Zoom's error shapes.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::state::World;
use super::{fault, take_fault, SandboxConn, SandboxState};
use crate::crypto::{ct_eq, sha256};

pub(super) fn zoom_error(status: StatusCode, error: &str, reason: &str) -> Response {
    (status, Json(json!({ "reason": reason, "error": error }))).into_response()
}

fn invalid_client() -> Response {
    zoom_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Invalid client_id or client_secret",
    )
}

/// Reads HTTP Basic client credentials, the only client authentication Zoom takes.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    account_id: Option<String>,
}

pub async fn token(
    State(sandbox): State<SandboxState>,
    conn: Option<Extension<ConnectInfo<SandboxConn>>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let slow = match take_fault(&sandbox, "token") {
        Some(Ok(refused)) => return refused.await,
        Some(Err(slow)) => Some(slow),
        None => None,
    };
    // Zoom acts on the call before a slow or lost answer: a refresh rotates.
    let response = process_token(&sandbox, &headers, &form);
    if let Some(slow) = slow {
        tokio::time::sleep(std::time::Duration::from_millis(slow.delay_ms)).await;
        if slow.drop_connection {
            if let Some(Extension(ConnectInfo(conn))) = conn {
                conn.drop_now();
            }
        }
    }
    response
}

fn process_token(sandbox: &SandboxState, headers: &HeaderMap, form: &TokenForm) -> Response {
    let Some((client_id, secret)) = basic_auth(headers) else {
        return invalid_client();
    };
    let mut world = sandbox.world();
    match form.grant_type.as_deref() {
        Some("authorization_code") => {
            world.counters.authorization_code += 1;
            if !client_ok(&world, &client_id, &secret) {
                return invalid_client();
            }
            authorization_code(&mut world, &client_id, form)
        }
        Some("refresh_token") => {
            world.counters.refresh_token += 1;
            if !client_ok(&world, &client_id, &secret) {
                return invalid_client();
            }
            refresh(
                &mut world,
                &client_id,
                form.refresh_token.as_deref().unwrap_or_default(),
            )
        }
        Some("account_credentials") => {
            world.counters.account_credentials += 1;
            account_credentials(
                &mut world,
                &client_id,
                &secret,
                form.account_id.as_deref().unwrap_or_default(),
            )
        }
        _ => zoom_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

fn client_ok(world: &World, client_id: &str, secret: &str) -> bool {
    world
        .clients
        .get(client_id)
        .is_some_and(|c| ct_eq(c.client_secret.as_bytes(), secret.as_bytes()))
}

fn authorization_code(world: &mut World, client_id: &str, form: &TokenForm) -> Response {
    let invalid_code = || {
        zoom_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid authorization code",
        )
    };
    let code_value = form.code.as_deref().unwrap_or_default();
    let now = world.now();
    let Some(code) = world.codes.get_mut(code_value) else {
        return invalid_code();
    };
    if code.used {
        // A replayed code revokes what it granted (RFC 6749 section 4.1.2).
        if let Some(grant) = code.grant_id.clone() {
            world.revoke_grant(&grant);
        }
        return invalid_code();
    }
    if code.expires_at <= now || code.client_id != client_id {
        return invalid_code();
    }
    if form.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return zoom_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Redirect URI mismatch.",
        );
    }
    if let Some(challenge) = &code.challenge {
        let verifier = form.code_verifier.as_deref().unwrap_or_default();
        let computed = match code.method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes())),
            _ => verifier.to_string(),
        };
        if verifier.is_empty() || !ct_eq(computed.as_bytes(), challenge.as_bytes()) {
            return zoom_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "Invalid code_verifier",
            );
        }
    }
    code.used = true;
    let (email, scopes) = (code.user_email.clone(), code.scopes.clone());
    let grant = world.new_grant(client_id, Some(&email), &scopes);
    if let Some(code) = world.codes.get_mut(code_value) {
        code.grant_id = Some(grant.clone());
    }
    Json(world.issue(&grant, true)).into_response()
}

fn refresh(world: &mut World, client_id: &str, presented: &str) -> Response {
    let invalid = || zoom_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid Token!");
    let Some(entry) = world.refresh.get(presented) else {
        return invalid();
    };
    let grant_id = entry.grant_id.clone();
    if entry.used {
        // Reuse of a rotated refresh token: assume theft and kill the grant.
        world.counters.refresh_reuse += 1;
        world.revoke_grant(&grant_id);
        return invalid();
    }
    match world.grants.get(&grant_id) {
        Some(g) if !g.revoked && g.client_id == client_id => {}
        _ => return invalid(),
    }
    if let Some(entry) = world.refresh.get_mut(presented) {
        entry.used = true;
    }
    // Only the newest access token of a grant stays valid, as at Zoom.
    world.access.retain(|_, t| t.grant_id != grant_id);
    Json(world.issue(&grant_id, true)).into_response()
}

fn account_credentials(
    world: &mut World,
    client_id: &str,
    secret: &str,
    account_id: &str,
) -> Response {
    let Some(app) = world.s2s_apps.get(client_id).cloned() else {
        return invalid_client();
    };
    if !ct_eq(app.client_secret.as_bytes(), secret.as_bytes()) {
        return invalid_client();
    }
    if app.account_id != account_id {
        return zoom_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid account_id",
        );
    }
    let grant = format!("s2s:{client_id}");
    if !world.grants.contains_key(&grant) {
        world.grants.insert(
            grant.clone(),
            super::state::Grant {
                client_id: client_id.into(),
                user_email: None,
                scopes: "user:read:admin meeting:write:admin".into(),
                revoked: false,
            },
        );
    }
    // Zoom once invalidated the previous S2S token on each new one; so do we.
    world.access.retain(|_, t| t.grant_id != grant);
    Json(world.issue(&grant, false)).into_response()
}

#[derive(Deserialize)]
pub struct RevokeForm {
    token: Option<String>,
}

pub async fn revoke(
    State(sandbox): State<SandboxState>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Some(response) = fault(&sandbox, "revoke").await {
        return response;
    }
    let Some((client_id, secret)) = basic_auth(&headers) else {
        return invalid_client();
    };
    let mut world = sandbox.world();
    if !client_ok(&world, &client_id, &secret) {
        return invalid_client();
    }
    // As strict as Zoom: only a live token of this client's own grant is revoked,
    // and only a revoke that happened is counted.
    let token = form.token.unwrap_or_default();
    let grant = world
        .access
        .get(&token)
        .map(|t| t.grant_id.clone())
        .or_else(|| world.refresh.get(&token).map(|t| t.grant_id.clone()))
        .filter(|g| {
            world
                .grants
                .get(g)
                .is_some_and(|g| g.client_id == client_id)
        });
    let Some(grant) = grant else {
        return zoom_error(StatusCode::BAD_REQUEST, "invalid_request", "Invalid Token!");
    };
    world.revoke_grant(&grant);
    world.counters.revoke += 1;
    Json(json!({ "status": "success" })).into_response()
}

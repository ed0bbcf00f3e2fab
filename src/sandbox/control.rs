//! The sandbox's control surface for tests and demos, under `/_sandbox`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ClientApp, Counters, Fault, S2sApp, SandboxState};

pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/_sandbox/counters", get(counters))
        .route("/_sandbox/faults", post(add_fault).delete(clear_faults))
        .route("/_sandbox/clock", post(advance_clock))
        .route("/_sandbox/config", post(configure))
        .route("/_sandbox/clients", post(add_client))
        .route("/_sandbox/s2s-apps", post(add_s2s_app))
        .route("/_sandbox/users", post(add_user))
        .route("/_sandbox/webhook", post(set_webhook))
        .route("/_sandbox/deauthorize", post(deauthorize))
}

async fn counters(State(s): State<SandboxState>) -> Json<Counters> {
    Json(s.counters())
}

async fn add_fault(State(s): State<SandboxState>, Json(fault): Json<Fault>) -> StatusCode {
    s.add_fault(fault);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(s): State<SandboxState>) -> StatusCode {
    s.world().faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Advance {
    advance_secs: i64,
}

async fn advance_clock(State(s): State<SandboxState>, Json(body): Json<Advance>) -> Json<Value> {
    let mut world = s.world();
    world.clock_offset += body.advance_secs;
    Json(json!({ "clock_offset_secs": world.clock_offset }))
}

#[derive(Deserialize)]
struct Configure {
    access_token_ttl_secs: Option<i64>,
}

async fn configure(State(s): State<SandboxState>, Json(body): Json<Configure>) -> StatusCode {
    if let Some(ttl) = body.access_token_ttl_secs {
        s.set_access_ttl(ttl);
    }
    StatusCode::NO_CONTENT
}

async fn add_client(State(s): State<SandboxState>, Json(app): Json<ClientApp>) -> StatusCode {
    s.register_client(app);
    StatusCode::NO_CONTENT
}

async fn add_s2s_app(State(s): State<SandboxState>, Json(app): Json<S2sApp>) -> StatusCode {
    s.register_s2s_app(app);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NewUser {
    email: String,
    #[serde(default)]
    role: Option<String>,
}

async fn add_user(State(s): State<SandboxState>, Json(body): Json<NewUser>) -> Json<super::User> {
    Json(s.add_user(&body.email, body.role.as_deref().unwrap_or("Member")))
}

#[derive(Deserialize)]
struct Webhook {
    url: String,
    secret_token: String,
    /// Only this client's events; without it, every client without its own.
    #[serde(default)]
    client_id: Option<String>,
}

async fn set_webhook(State(s): State<SandboxState>, Json(body): Json<Webhook>) -> StatusCode {
    match &body.client_id {
        Some(client_id) => s.set_client_webhook(client_id, &body.url, &body.secret_token),
        None => s.set_webhook(&body.url, &body.secret_token),
    }
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Deauthorize {
    email: String,
}

/// The user removes the app in Zoom: grants die and a signed
/// `app_deauthorized` event goes to the configured webhook.
async fn deauthorize(State(s): State<SandboxState>, Json(body): Json<Deauthorize>) -> Json<Value> {
    let delivered = s.remove_app(&body.email).await;
    Json(json!({ "deliveries": delivered }))
}

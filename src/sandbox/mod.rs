//! A faithful stand-in for Zoom's OAuth and user endpoints, for the demo and
//! the tests. It speaks over real HTTP exactly what the broker expects from
//! Zoom: Basic client auth, PKCE, exact redirect URIs, single-use codes,
//! rotating refresh tokens with reuse detection, and Zoom's error shapes.

mod api;
mod consent;
mod control;
mod oauth;
mod state;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::connect_info::Connected;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

pub use api::{ApiLimits, ApiUsage};
use state::World;
pub use state::{ClientApp, Counters, Fault, S2sApp, User};

/// Default lifetime of sandbox access tokens, as Zoom's.
pub const DEFAULT_ACCESS_TTL: i64 = 3600;

/// The sandbox's shared state. Keep the `Arc` to restart it on the same
/// port with its memory intact (tests of a Zoom outage do).
pub struct Sandbox {
    world: Mutex<World>,
    /// The REST API routes' own state (meetings, rate limits, usage).
    api: Mutex<api::ApiState>,
}

pub type SandboxState = Arc<Sandbox>;

impl Sandbox {
    pub fn new(access_ttl: i64) -> SandboxState {
        Arc::new(Self {
            world: Mutex::new(World::new(access_ttl)),
            api: Mutex::new(api::ApiState::default()),
        })
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().expect("sandbox state poisoned")
    }

    pub(crate) fn api(&self) -> MutexGuard<'_, api::ApiState> {
        self.api.lock().expect("sandbox API state poisoned")
    }

    /// What the REST API routes answered, for tests of the proxy.
    pub fn api_usage(&self) -> api::ApiUsage {
        self.api().usage.clone()
    }

    pub fn set_api_limits(&self, limits: api::ApiLimits) {
        self.api().limits = limits;
    }

    /// Grants not revoked, for tests that must see a grant dead at Zoom.
    pub fn live_grants(&self) -> usize {
        self.world().grants.values().filter(|g| !g.revoked).count()
    }

    pub fn register_client(&self, app: ClientApp) {
        self.world().clients.insert(app.client_id.clone(), app);
    }

    pub fn register_s2s_app(&self, app: S2sApp) {
        self.world().s2s_apps.insert(app.client_id.clone(), app);
    }

    pub fn add_user(&self, email: &str, role: &str) -> User {
        self.world().upsert_user(&email.trim().to_lowercase(), role)
    }

    pub fn counters(&self) -> Counters {
        self.world().counters.clone()
    }

    pub fn add_fault(&self, fault: Fault) {
        self.world().faults.push(fault);
    }

    /// Injected faults not yet used up: a test whose fault never fired did
    /// not test what it meant to.
    pub fn pending_faults(&self) -> usize {
        self.world().faults.len()
    }

    pub fn set_webhook(&self, url: &str, secret_token: &str) {
        self.world().webhook = Some((url.to_string(), secret_token.to_string()));
    }

    /// Where `client_id`'s events go, signed with its own secret token.
    pub fn set_client_webhook(&self, client_id: &str, url: &str, secret_token: &str) {
        self.world().client_webhooks.insert(
            client_id.to_string(),
            (url.to_string(), secret_token.to_string()),
        );
    }

    /// Removes the app for `email` and sends each signed deauthorization
    /// event. Returns the HTTP status of every delivery (0 when unreachable).
    pub async fn remove_app(&self, email: &str) -> Vec<u16> {
        let (removed, now) = {
            let mut world = self.world();
            let removed: Vec<_> = world
                .remove_app_for(&email.trim().to_lowercase())
                .into_iter()
                .filter_map(|(client_id, user_id, account_id)| {
                    let hook = world
                        .client_webhooks
                        .get(&client_id)
                        .or(world.webhook.as_ref())
                        .cloned()?;
                    Some((hook, client_id, user_id, account_id))
                })
                .collect();
            (removed, world.now())
        };
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for ((url, secret), client_id, user_id, account_id) in removed {
            let body = serde_json::to_vec(&json!({
                "event": "app_deauthorized",
                "event_ts": now * 1000,
                "payload": {
                    "account_id": account_id,
                    "user_id": user_id,
                    // Zoom signs each event; a retry repeats it, a new event does not.
                    "signature": crate::crypto::hmac_hex(
                        &secret,
                        format!("{user_id}:{now}:{}", crate::crypto::random_token()).as_bytes(),
                    ),
                    "deauthorization_time": crate::domain::rfc3339(now),
                    "client_id": client_id,
                },
            }))
            .expect("static JSON shape");
            let timestamp = now.to_string();
            let sent = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-zm-request-timestamp", &timestamp)
                .header(
                    "x-zm-signature",
                    crate::zoom::webhook_signature(&secret, &timestamp, &body),
                )
                .body(body)
                .send()
                .await;
            statuses.push(sent.map(|r| r.status().as_u16()).unwrap_or(0));
        }
        statuses
    }

    pub fn set_access_ttl(&self, secs: i64) {
        self.world().access_ttl = secs;
    }
}

pub fn router(sandbox: SandboxState) -> Router {
    Router::new()
        .route("/oauth/authorize", get(consent::show).post(consent::decide))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/v2/users/me", get(users_me))
        .merge(control::routes())
        .merge(api::routes())
        .with_state(sandbox)
}

/// Serves the sandbox on `listener` until `shutdown` resolves.
pub async fn launch_with_tcp_listener(
    listener: TcpListener,
    sandbox: SandboxState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router(sandbox).into_make_service_with_connect_info::<SandboxConn>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Applies an injected fault, if one is armed for `endpoint`: waits, then
/// answers the fault's error, or lets the call proceed when it has none.
pub(crate) async fn fault(sandbox: &Sandbox, endpoint: &str) -> Option<Response> {
    match take_fault(sandbox, endpoint)? {
        Ok(refused) => Some(refused.await),
        Err(slow) => {
            tokio::time::sleep(std::time::Duration::from_millis(slow.delay_ms)).await;
            None
        }
    }
}

/// Takes one charge of a fault: `Ok` with the delayed error answer when it
/// refuses the call, `Err` with the fault when it only slows or drops it.
pub(crate) fn take_fault(
    sandbox: &Sandbox,
    endpoint: &str,
) -> Option<Result<impl Future<Output = Response>, Fault>> {
    let fault = sandbox.world().take_fault(endpoint)?;
    let Some(status) = fault.status.and_then(|s| StatusCode::from_u16(s).ok()) else {
        return Some(Err(fault));
    };
    Some(Ok(async move {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
        let error = fault.error.unwrap_or_else(|| "server_error".into());
        let reason = fault.reason.unwrap_or_else(|| "Internal Error".into());
        (status, Json(json!({ "reason": reason, "error": error }))).into_response()
    }))
}

/// The TCP connection a request came in on, so that a fault can drop it
/// without an answer, as a network failure after Zoom acted would.
#[derive(Clone)]
pub struct SandboxConn {
    socket: Option<Arc<std::net::TcpStream>>,
}

impl SandboxConn {
    fn drop_now(&self) {
        if let Some(socket) = &self.socket {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for SandboxConn {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        // A second handle on the same socket: shutting it down ends the
        // connection at once, whatever the HTTP server is doing with it.
        #[cfg(unix)]
        let socket = {
            use std::os::fd::AsFd;
            stream
                .io()
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .map(|fd| Arc::new(std::net::TcpStream::from(fd)))
        };
        #[cfg(not(unix))]
        let socket = {
            let _ = stream;
            None
        };
        Self { socket }
    }
}

async fn users_me(State(sandbox): State<SandboxState>, headers: HeaderMap) -> Response {
    if let Some(response) = fault(&sandbox, "users_me").await {
        return response;
    }
    let mut world = sandbox.world();
    world.counters.users_me += 1;
    let invalid = |message: &str| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "code": 124, "message": message })),
        )
            .into_response()
    };
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return invalid("Invalid access token.");
    };
    let now = world.now();
    let Some(access) = world.access.get(token) else {
        return invalid("Invalid access token.");
    };
    if access.expires_at <= now {
        return invalid("Access token is expired.");
    }
    let grant = &world.grants[&access.grant_id];
    let Some(user) = grant
        .user_email
        .as_ref()
        .and_then(|e| world.users.get(&e.to_ascii_lowercase()))
    else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "code": 1001, "message": "User does not exist." })),
        )
            .into_response();
    };
    let (first, last) = user
        .email
        .split_once('@')
        .map(|(l, _)| (l, "Sandbox"))
        .unwrap_or(("Sandbox", "User"));
    Json(json!({
        "id": user.id,
        "first_name": first,
        "last_name": last,
        "email": user.email,
        "type": 2,
        "role_name": user.role_name,
        "role_id": user.role_id(),
        "account_id": user.account_id,
        "status": "active",
        "timezone": "UTC",
    }))
    .into_response()
}

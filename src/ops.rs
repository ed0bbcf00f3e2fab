//! Operations endpoints: liveness, readiness, metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use std::time::Duration;

use crate::app::AppState;
use crate::error::DATABASE_RETRY_AFTER_SECS;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up. Does no I/O, so it stays cheap under load.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// How long readiness waits for the database: a load balancer must learn of
/// an outage within a second, not when the pool gives up.
const READY_WAIT: Duration = Duration::from_millis(800);

/// The database answers.
async fn readyz(State(app): State<AppState>) -> Response {
    let failure = match tokio::time::timeout(READY_WAIT, app.store.ping()).await {
        Ok(Ok(())) => {
            return (
                StatusCode::OK,
                Json(json!({ "status": "ready", "database": app.store.backend() })),
            )
                .into_response()
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {} ms", READY_WAIT.as_millis()),
    };
    tracing::warn!(%failure, "readiness check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, DATABASE_RETRY_AFTER_SECS.to_string())],
        Json(json!({ "status": "unavailable", "database": app.store.backend() })),
    )
        .into_response()
}

async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}

//! Operations endpoints: liveness, readiness, metrics. Public: no API key.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::time::Duration;

use crate::app::AppState;
use crate::domain::DeliveryStatus;
use crate::error::DATABASE_RETRY_AFTER_SECS;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Liveness {
    Ok,
}

#[derive(Serialize, ToSchema)]
struct Health {
    status: Liveness,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ReadyState {
    Ready,
    Unavailable,
}

#[derive(Serialize, ToSchema)]
struct Readiness {
    status: ReadyState,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// The process is up
///
/// Does no I/O, so it stays cheap under load.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Up.", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: Liveness::Ok,
    })
}

/// How long readiness waits for the database: a load balancer must learn of
/// an outage within a second, not when the pool gives up.
const READY_WAIT: Duration = Duration::from_millis(800);

/// The database answers
///
/// Within 0.8 s, or the answer is 503 with `Retry-After`.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "The database did not answer within 0.8 s.", body = Readiness,
            headers(("Retry-After" = u64, description = "Seconds to wait before asking again."))),
    )
)]
async fn readyz(State(app): State<AppState>) -> Response {
    let database = app.store.backend();
    let failure = match tokio::time::timeout(READY_WAIT, app.store.ping()).await {
        Ok(Ok(())) => {
            let ready = Readiness {
                status: ReadyState::Ready,
                database,
            };
            return (StatusCode::OK, Json(ready)).into_response();
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {} ms", READY_WAIT.as_millis()),
    };
    tracing::warn!(%failure, "readiness check failed");
    let unavailable = Readiness {
        status: ReadyState::Unavailable,
        database,
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, DATABASE_RETRY_AFTER_SECS.to_string())],
        Json(unavailable),
    )
        .into_response()
}

/// Prometheus metrics
///
/// Requests by route and status, latency histograms, Zoom calls by endpoint
/// and outcome, refreshes by outcome, event deliveries by outcome and
/// undelivered events by status.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Prometheus text format.", body = String,
        content_type = "text/plain"))
)]
async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    // Best effort: a database outage must not take the metrics down.
    if let Ok(backlog) = app.store.event_backlog().await {
        for status in [DeliveryStatus::Pending, DeliveryStatus::Failed] {
            let count = backlog
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |c| c.1);
            app.metrics.event_backlog(status.as_str(), count);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}

//! Operations endpoints: liveness, readiness, metrics. Public: no API key.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

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

/// The database answers
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "The database does not answer.", body = Readiness),
    )
)]
async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = app.store.backend();
    match app.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Readiness {
                status: ReadyState::Ready,
                database,
            }),
        ),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: ReadyState::Unavailable,
                    database,
                }),
            )
        }
    }
}

/// Prometheus metrics
///
/// Requests by route and status, latency histograms, Zoom calls by endpoint
/// and outcome, refreshes by outcome.
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
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}

//! The HTTP server: routes, layers, and the seam tests launch through.

use std::future::Future;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::tokens::{flush_usage, spawn_background_refresher, spawn_usage_flusher};
use crate::{flow, openapi, telemetry};

/// Request bodies are small JSON documents or forms; anything larger is refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(app: AppState) -> Router {
    Router::new()
        .merge(openapi::routes())
        .merge(flow::routes())
        .merge(crate::webhooks::routes())
        .merge(crate::admin::routes(&app.config.public_dir))
        // After every merge: it applies to the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(middleware::from_fn(no_store_for_apis))
        // Behind an Arc: the middleware's state is cloned for every request,
        // and a clone of `Metrics` itself is some twenty reference counts
        // that both cores then fight over.
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::new(app.metrics.clone()),
            telemetry::observe,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(app)
}

/// API answers carry tokens and tenant data: no cache, shared or private, may keep them.
async fn no_store_for_apis(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/admin/api/");
    let mut response = next.run(request).await;
    if api {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A known path with another method: JSON like every error; axum adds `Allow`.
async fn method_not_allowed() -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ErrorBody {
            error: "method_not_allowed",
            message: "this path does not accept that method; the Allow header lists those it does"
                .into(),
        }),
    )
}

/// Serves the broker on `listener` until `shutdown` resolves, then drains
/// in-flight requests. Starts the background refresher when configured.
pub async fn launch_with_tcp_listener(
    listener: TcpListener,
    app: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresher = app
        .config
        .background_refresh
        .then(|| spawn_background_refresher(app.clone()));
    let usage = spawn_usage_flusher(app.clone());
    let events = crate::events::spawn_delivery(app.clone());
    let listener_task = crate::service::invalidation::spawn_listener(app.clone());
    let budgets = spawn_budget_pruner(app.clone());
    let result = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(handle) = refresher {
        handle.abort();
    }
    if let Some(events) = events {
        events.shutdown().await;
    }
    if let Some(handle) = listener_task {
        handle.abort();
    }
    budgets.abort();
    // The uses of the last few seconds decide what stays fresh.
    usage.abort();
    if let Err(err) = flush_usage(&app).await {
        tracing::warn!(%err, "could not record the last connection uses");
    }
    // A refresh still awaiting Zoom holds the only copy of the grant once
    // Zoom has rotated: let it store its answer before the process exits.
    if !app.refresher.drain(app.config.timing.lease()).await {
        tracing::error!("exiting with refreshes still under way; their answers are lost");
    }
    // Spans still buffered for OTLP leave before the process does.
    telemetry::flush().await;
    result
}

/// Drops the shared rate ledger's ended windows and holds once a minute
/// (on PostgreSQL; SQLite's budgets live in memory).
fn spawn_budget_pruner(app: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(err) = app.budgets.prune().await {
                tracing::warn!(%err, "could not prune the rate ledger");
            }
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

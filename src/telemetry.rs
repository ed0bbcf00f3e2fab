//! Logs (text or JSON), Prometheus metrics, and OTLP traces (`otlp`).
//!
//! Spans name the matched route, never the raw URI: connect tokens, OAuth
//! codes and `state` travel in URIs and must not reach a log or a trace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

mod otlp;
pub use otlp::{continue_trace, flush, trace_headers};

/// Installs the global subscriber once; later calls (tests) are no-ops.
/// With an OTLP endpoint configured it also exports spans (inside the Tokio
/// runtime); without one the subscriber is exactly the logging one.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    let ansi = std::io::stdout().is_terminal();
    if otlp::configured() {
        return init_with_export(format, filter, ansi);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Logs filtered by `RUST_LOG` as usual; spans exported whatever the log
/// level, each layer with its own filter.
fn init_with_export(format: LogFormat, filter: EnvFilter, ansi: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi);
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => logs.with_filter(filter).boxed(),
    };
    let registry = tracing_subscriber::registry().with(logs);
    match otlp::layer() {
        Ok(export) => {
            let spans = export.with_filter(tracing_subscriber::filter::LevelFilter::INFO);
            let _ = registry.with(spans).try_init();
        }
        Err(err) => {
            let _ = registry.try_init();
            tracing::error!(%err, "traces are not exported");
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    kind: String,
    outcome: String,
}

/// One registry per app, so parallel test apps never mix their counts.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    upstream: Family<UpstreamLabels, Counter>,
    upstream_latency: Family<EndpointLabels, Histogram>,
    refreshes: Family<RefreshLabels, Counter>,
    event_deliveries: Family<OutcomeLabels, Counter>,
    event_backlog: Family<StatusLabels, Gauge>,
    /// The token API's cache lookups, `hit` and `miss`: created once, so the
    /// hot path only increments (no label allocation or family lock).
    token_cache_hits: Counter,
    token_cache_misses: Counter,
    token_resolutions: Counter,
    listener_up: prometheus_client::metrics::gauge::Gauge,
    /// The Zoom API proxy's series.
    pub proxy: crate::ratelimit::metrics::ProxyMetrics,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tokenbroker");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        let upstream_latency = Family::<EndpointLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let refreshes = Family::<RefreshLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "upstream_requests",
            "Calls to Zoom by endpoint and outcome",
            upstream.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Latency of calls to Zoom",
            upstream_latency.clone(),
        );
        registry.register(
            "token_refreshes",
            "Upstream token refreshes by kind and outcome",
            refreshes.clone(),
        );
        let event_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "event_deliveries",
            "Attempts to deliver events to the CRM by outcome: delivered, retried, failed",
            event_deliveries.clone(),
        );
        let event_backlog = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "events",
            "Events to the CRM not delivered, by status: pending, failed",
            event_backlog.clone(),
        );
        let token_cache = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "token_cache_lookups",
            "Token API lookups of the in-memory token cache, by outcome (hit, miss)",
            token_cache.clone(),
        );
        let cache_counter = |outcome: &str| {
            token_cache
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.into(),
                })
                .clone()
        };
        let (token_cache_hits, token_cache_misses) = (cache_counter("hit"), cache_counter("miss"));
        let token_resolutions = Counter::default();
        registry.register(
            "token_resolutions",
            "Token resolutions run for cache misses (a database read and any refresh); \
             misses that arrive while one for the same token is under way share it",
            token_resolutions.clone(),
        );
        let listener_up = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "invalidation_listener_up",
            "1 while the cross-replica invalidation listener is connected (or not needed)",
            listener_up.clone(),
        );
        let proxy = crate::ratelimit::metrics::ProxyMetrics::register(&mut registry);
        Self {
            proxy,
            registry: Arc::new(registry),
            token_cache_hits,
            token_cache_misses,
            token_resolutions,
            listener_up,
            requests,
            latency,
            upstream,
            upstream_latency,
            refreshes,
            event_deliveries,
            event_backlog,
        }
    }
}

impl Metrics {
    pub fn upstream(&self, endpoint: &str, outcome: &str, elapsed: Duration) {
        self.upstream
            .get_or_create(&UpstreamLabels {
                endpoint: endpoint.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.upstream_latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn refresh(&self, kind: &str, outcome: &str) {
        self.refreshes
            .get_or_create(&RefreshLabels {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn event_delivery(&self, outcome: &str) {
        self.event_deliveries
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// A token cache lookup: `hit` or `miss`.
    pub fn token_cache(&self, hit: bool) {
        if hit {
            self.token_cache_hits.inc();
        } else {
            self.token_cache_misses.inc();
        }
    }

    /// A token resolution run (not one joined).
    pub fn token_resolved(&self) {
        self.token_resolutions.inc();
    }

    /// Token resolutions run since start.
    pub fn token_resolutions(&self) -> u64 {
        self.token_resolutions.get()
    }

    /// Sets the gauge of undelivered events (read from the database at scrape time).
    pub fn event_backlog(&self, status: &str, count: i64) {
        self.event_backlog
            .get_or_create(&StatusLabels {
                status: status.into(),
            })
            .set(count);
    }

    pub fn listener_up(&self, up: bool) {
        self.listener_up.set(i64::from(up));
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.into(),
                method: method.into(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.into(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// Middleware: one span per request, named by route, plus request metrics.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = method_label(request.method());
    let span = tracing::info_span!(
        "request",
        %method,
        %route,
        status = tracing::field::Empty,
        api_key = tracing::field::Empty,
        otel.kind = "server",
        otel.name = tracing::field::Empty,
    );
    if otlp::exporting() {
        span.record("otel.name", format!("{method} {route}"));
        continue_trace(&span, request.headers());
    }
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("status", status);
    span.in_scope(|| {
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request finished"
        )
    });
    metrics.request(&route, method, status, started.elapsed());
    response
}

/// Any client can send any method token; only the standard ones get their
/// own series, so nobody can create unbounded label values.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

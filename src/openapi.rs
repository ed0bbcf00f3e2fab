//! The OpenAPI document, generated from the code: each handler's
//! `#[utoipa::path]` gives its method, path, parameters and answers, and the
//! same attribute registers its route (`utoipa_axum::routes!`). The schemas
//! derive from the types the handlers read and write. So a route, a status
//! or a field cannot change without the document changing with it.
//!
//! It describes the internal API (`/api/v1`) and the operations endpoints.
//! The browser routes (connect, callback, console) and Zoom's webhook are
//! not for API clients; the README describes them.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ErrorBody;
use crate::{api, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tokenbroker internal API",
        description = "Zoom OAuth token broker for CRMs. Every `/api/v1` call carries \
            `Authorization: Bearer <api key>`. Errors are JSON `{error, message}`. \
            Timestamps are RFC 3339 in UTC. Emails match after trimming, case-insensitively."
    ),
    // The name must equal `api::SECURITY_SCHEME`; the attribute takes only a literal.
    security(("apiKey" = [])),
    modifiers(&BearerAuth),
    // Shared error answers (`api::responses`) refer to this schema by name.
    components(schemas(ErrorBody)),
    tags(
        (name = "authorize", description = "Start a user's Zoom authorization."),
        (name = "tokens", description = "Live Zoom tokens for internal apps."),
        (name = "connections", description = "Stored grants; never tokens."),
        (name = "credentials", description = "Write-only S2S and legacy JWT credentials."),
        (name = "audit", description = "The security audit log."),
        (name = "events", description = "Events to the CRM (Standard Webhooks v1): replay and polling."),
        (name = "admin", description = "Admin console links and the migration report."),
        (name = "zoom", description = "Zoom's API through the broker: signed, rate-limited per Zoom account, one retry for a refused token."),
        (name = "operations", description = "Health, readiness, metrics, this document."),
    )
)]
struct Base;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            api::SECURITY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`tb_<id>_<secret>`, from `tokenbroker api-key create`.",
                    ))
                    .build(),
            ),
        );
    }
}

fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Base::openapi())
        .routes(routes!(openapi_json))
        .merge(api::routes())
        .merge(ops::routes())
}

/// Every documented route.
pub fn routes() -> Router<AppState> {
    documented().split_for_parts().0
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = documented().into_openapi();
        // axum writes a rest-of-path parameter `{*path}`; OpenAPI names it `{path}`.
        let paths = std::mem::take(&mut doc.paths.paths);
        doc.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (path.replace("{*", "{"), item))
            .collect();
        doc
    })
}

/// This OpenAPI document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1.", content_type = "application/json",
        body = Object))
)]
async fn openapi_json(State(app): State<AppState>) -> impl IntoResponse {
    static JSON: OnceLock<serde_json::Value> = OnceLock::new();
    let shared = JSON.get_or_init(|| {
        serde_json::to_value(document()).expect("an OpenAPI document always serialises")
    });
    let body = served(shared.clone(), &app.config.zoom_products.names()).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// The document as this deployment serves it: a request's product names must
/// be among `ZOOM_PRODUCTS`, which only the running broker knows, so the
/// items of `products` get them as an `enum` (and none configured: no items).
/// A client or a fuzzer then sees exactly what the handler accepts.
pub fn served(mut doc: serde_json::Value, products: &[&str]) -> serde_json::Value {
    let products_schema =
        &mut doc["components"]["schemas"]["NewConnectSession"]["properties"]["products"];
    if products.is_empty() {
        products_schema["maxItems"] = 0.into();
    } else {
        products_schema["items"]["enum"] = products.iter().copied().collect();
    }
    doc
}

//! The OpenAPI document is generated from the code; these tests hold it to
//! the router and to the types, so neither can drift from the other.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

/// Browser and Zoom-facing routes: not part of the API document.
const UNDOCUMENTED_PREFIXES: [&str; 4] = ["/connect/", "/oauth/", "/admin", "/webhooks/"];
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

async fn served_document(app: &TestApp) -> Value {
    let response = app
        .api
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Every path the server routes. axum offers no way to list routes except
/// its `Debug` output, which names each one as `RouteId(n): "<path>"`, first
/// in `path_router` and then in the `fallback_router` (which we skip).
fn routed_paths(app: &TestApp) -> BTreeSet<String> {
    let debug = format!("{:?}", tokenbroker::router(app.app.clone()));
    let start = debug
        .find("path_router:")
        .expect("Router debug names path_router");
    let end = debug
        .find("fallback_router:")
        .expect("Router debug names fallback_router");
    let route = regex::Regex::new(r#"RouteId\(\d+\): "([^"]+)""#).unwrap();
    route
        .captures_iter(&debug[start..end])
        // The document names axum's rest-of-path `{*path}` `{path}`.
        .map(|c| c[1].replace("{*", "{"))
        .filter(|p| !p.contains("__private__axum"))
        .collect()
}

fn documented_methods(doc: &Value, path: &str) -> BTreeSet<String> {
    doc["paths"][path]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| METHODS.iter().any(|m| m.as_str().eq_ignore_ascii_case(k)))
        .map(|k| k.to_uppercase())
        .collect()
}

#[tokio::test]
async fn every_api_route_is_documented_and_every_documented_path_is_routed() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let routed = routed_paths(&app);
    assert!(
        routed.contains("/oauth/callback") && routed.contains("/api/v1/connect-sessions"),
        "could not read the routes from the router's Debug output: {routed:?}"
    );
    let api_routes: BTreeSet<String> = routed
        .into_iter()
        .filter(|p| !UNDOCUMENTED_PREFIXES.iter().any(|x| p.starts_with(x)))
        .collect();
    assert_eq!(api_routes, documented, "routes and document differ");

    // Methods: one the router lacks answers 405 before any extractor runs.
    for path in &documented {
        let url = format!("{}{}", app.base, path.replace(['{', '}'], ""));
        let mut routed = BTreeSet::new();
        for method in METHODS {
            let response = app.api.request(method.clone(), &url).send().await.unwrap();
            if response.status() != StatusCode::METHOD_NOT_ALLOWED {
                routed.insert(method.to_string());
            }
        }
        assert_eq!(routed, documented_methods(&doc, path), "methods of {path}");
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let app = spawn_app().await;
    let served = served_document(&app).await;
    let generated = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    // Only the deployment's products differ (none here: no items allowed).
    assert_ne!(served, generated);
    assert_eq!(served, tokenbroker::openapi::served(generated.clone(), &[]));
    let mut unnarrowed = served.clone();
    let products =
        &mut unnarrowed["components"]["schemas"]["NewConnectSession"]["properties"]["products"];
    products.as_object_mut().unwrap().remove("maxItems");
    products["maxItems"] = generated["components"]["schemas"]["NewConnectSession"]["properties"]
        ["products"]["maxItems"]
        .clone();
    assert_eq!(unnarrowed, generated);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

/// Collects every `$ref` in the document.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((path.clone(), method.clone(), op));
        }
    }
    ops
}

#[test]
fn every_reference_resolves_and_every_error_has_the_error_body() {
    let doc = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("local schema ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    for (path, method, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            // `/readyz` answers its own shape when the database is down.
            let error = status.starts_with('4') || status.starts_with('5');
            if error && path != "/readyz" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn api_operations_document_auth_and_the_statuses_every_caller_can_get() {
    let doc = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    let scheme = &doc["components"]["securitySchemes"][tokenbroker::api::SECURITY_SCHEME];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(
        doc["security"][0][tokenbroker::api::SECURITY_SCHEME],
        serde_json::json!([])
    );
    let public = ["/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"];
    for (path, method, op) in operations(&doc) {
        let responses = &op["responses"];
        let has = |status: &str| responses[status].is_object();
        if public.contains(&path.as_str()) {
            assert_eq!(op["security"], serde_json::json!([{}]), "{path} is public");
            continue;
        }
        assert!(
            op["security"].is_null(),
            "{method} {path} uses the global bearer scheme"
        );
        for status in ["401", "500"] {
            assert!(has(status), "{method} {path} lacks {status}");
        }
        if path.contains('{') || op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
            assert!(has("400"), "{method} {path} has parameters but no 400");
        }
        // A JSON body is size-limited and typed; the Zoom proxy's body is Zoom's.
        if op["requestBody"]["content"]["application/json"].is_object() {
            for status in ["400", "413", "415"] {
                assert!(has(status), "{method} {path} has a body but no {status}");
            }
        }
        if path.contains("{org}") {
            assert!(has("404"), "{method} {path} names an org but has no 404");
        }
        for (status, response) in responses.as_object().unwrap() {
            if status == "503" {
                assert!(
                    response["headers"]["Retry-After"].is_object(),
                    "{method} {path} 503 without Retry-After"
                );
            }
        }
    }
}

#[test]
fn the_token_endpoint_documents_each_of_its_errors() {
    let doc = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    let op = &doc["paths"]["/api/v1/orgs/{org}/users/{email}/token"]["get"];
    let statuses: BTreeSet<&str> = op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["200", "400", "401", "403", "404", "409", "410", "500", "503"])
    );
}

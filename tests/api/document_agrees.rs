//! Issue 23, part 3: requests the served OpenAPI document allows are the
//! requests the handlers accept. The served document is the reference: each
//! test reads the rule from it (enum, pattern) and holds the handler to it,
//! on both sides of the rule. The README's "The document and the handlers"
//! says why each rule sits where it does.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const PRODUCTS: &str = "meetings=meeting:read;webinar=webinar:read";

async fn served(app: &TestApp) -> Value {
    app.get("/api/v1/openapi.json").await.json().await.unwrap()
}

fn products_schema(doc: &Value) -> &Value {
    &doc["components"]["schemas"]["NewConnectSession"]["properties"]["products"]
}

fn query_param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path} documents no {name}"))
}

fn pattern(schema: &Value) -> regex::Regex {
    regex::Regex::new(schema["pattern"].as_str().expect("a pattern")).unwrap()
}

async fn new_session(app: &TestApp, products: Value) -> reqwest::Response {
    let body = json!({ "org": "acme", "email": "ann@acme.test", "app_type": "user", "products": products });
    app.send_json(Method::POST, "/api/v1/connect-sessions", body)
        .await
}

#[tokio::test]
async fn the_served_document_names_exactly_the_products_the_handler_takes() {
    let app = spawn_app_with(&[("ZOOM_PRODUCTS", PRODUCTS)]).await;
    let doc = served(&app).await;
    let items = &products_schema(&doc)["items"];
    assert_eq!(items["enum"], json!(["meetings", "webinar"]));
    let allowed = |name: &str| {
        pattern(items).is_match(name) && items["enum"].as_array().unwrap().contains(&json!(name))
    };
    // Issue 23's finding ([""]), names with spaces around, other cases,
    // well-formed names this deployment lacks, and the configured ones.
    for name in [
        "", " webinar", "webinar ", "Webinar", "video", "meetings", "webinar",
    ] {
        let response = new_session(&app, json!([name])).await;
        if allowed(name) {
            assert_eq!(response.status(), StatusCode::CREATED, "{name:?}");
        } else {
            assert_eq!(
                error_code(response, StatusCode::BAD_REQUEST).await,
                "unknown_product",
                "{name:?}"
            );
        }
    }

    // Without ZOOM_PRODUCTS no name is valid, and the document says so.
    let plain = spawn_app().await;
    let doc = served(&plain).await;
    assert_eq!(products_schema(&doc)["maxItems"], 0);
    assert_eq!(
        new_session(&plain, json!([])).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_event_id_the_document_allows_is_one_the_server_can_place() {
    let app = spawn_app().await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.connect("bob@acme.example", "user", "Member").await;
    let doc = served(&app).await;
    let after = pattern(&query_param(&doc, "/api/v1/events", "after")["schema"]);
    let all: Value = app.get("/api/v1/events").await.json().await.unwrap();
    let first = all["events"][0]["id"].as_str().unwrap().to_string();
    assert!(after.is_match(&first), "a real id fits the document");
    assert!(after.is_match(""), "empty is the first page");
    let page: Value = app
        .get(&format!("/api/v1/events?after={first}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"][0], all["events"][1]);
    // Issue 23's value is outside the document now, and still refused.
    let huge = "999999999999999999999999999999";
    assert!(!after.is_match(huge));
    let r = app.get(&format!("/api/v1/events?after={huge}")).await;
    assert_eq!(
        error_code(r, StatusCode::BAD_REQUEST).await,
        "invalid_cursor"
    );
}

#[tokio::test]
async fn zoom_refusing_s2s_credentials_is_a_documented_422_that_stores_nothing() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    let put = &doc["paths"]["/api/v1/orgs/{org}/s2s-credentials"]["put"];
    assert!(put["responses"]["422"]["description"]
        .as_str()
        .unwrap()
        .contains("s2s_credentials_rejected"));
    assert!(put["description"]
        .as_str()
        .unwrap()
        .contains("no schema can state it"));
    // Well-formed credentials of an app the sandbox does not know.
    let refused = app
        .send_json(
            Method::PUT,
            "/api/v1/orgs/acme/s2s-credentials",
            json!({ "email": "ops@acme.example", "account_id": "acct", "client_id": "id", "client_secret": "secret" }),
        )
        .await;
    assert_eq!(
        error_code(refused, StatusCode::UNPROCESSABLE_ENTITY).await,
        "s2s_credentials_rejected"
    );
    assert_eq!(
        error_code(app.token("ops@acme.example").await, StatusCode::NOT_FOUND).await,
        "not_connected",
        "nothing was stored"
    );
}

//! Products (`ZOOM_PRODUCTS`) on the connect page, the scopes they send to
//! Zoom, and the refusal of a grant that lacks `ZOOM_REQUIRED_SCOPES`.

use std::collections::HashMap;

use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const PRODUCTS: &str = "meetings=meeting:read meeting:write;webinar=webinar:read;phone=phone:read";

async fn with_products(required: Option<&str>) -> TestApp {
    let mut vars = vec![("ZOOM_PRODUCTS", PRODUCTS), ("ZOOM_SCOPES", "user:read")];
    if let Some(required) = required {
        vars.push(("ZOOM_REQUIRED_SCOPES", required));
    }
    spawn_app_with(&vars).await
}

async fn session_url(app: &TestApp, products: Value, return_to: Option<&str>) -> String {
    let mut body = json!({ "org": "acme", "email": "ann@acme.test", "app_type": "user" });
    if !products.is_null() {
        body["products"] = products;
    }
    if let Some(r) = return_to {
        body["return_to"] = r.into();
    }
    let created = app
        .send_json(reqwest::Method::POST, "/api/v1/connect-sessions", body)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Opens the page and submits it with these boxes ticked.
async fn confirm(browser: &Client, url: &str, ticked: &[&str]) -> Response {
    let page = browser.get(url).send().await.unwrap().text().await.unwrap();
    let mut form = vec![("form_token".to_string(), form_token(&page))];
    form.extend(
        ticked
            .iter()
            .map(|p| ("product".to_string(), p.to_string())),
    );
    let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
    browser
        .post(url)
        .header("origin", origin)
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn the_page_offers_each_product_and_sends_the_ticked_ones_scopes() {
    let app = with_products(None).await;
    let url = session_url(&app, json!(["webinar"]), None).await;
    let browser = browser();
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        product_boxes(&page),
        [
            ("meetings".to_string(), false),
            ("webinar".to_string(), true),
            ("phone".to_string(), false)
        ]
    );
    assert!(page.contains("Select the Zoom products you integrate, then Confirm"));
    assert!(page.contains("ann@acme.test") && page.contains("user-level"));
    assert!(
        !page.contains("<script"),
        "the page must work without JavaScript"
    );

    let to_zoom = confirm(&browser, &url, &["phone", "meetings"]).await;
    assert_eq!(to_zoom.status(), StatusCode::SEE_OTHER);
    let scope = &query(&location(&to_zoom))["scope"];
    // ZOOM_SCOPES first, then the ticked products in configured order.
    assert_eq!(scope, "user:read meeting:read meeting:write phone:read");
}

#[tokio::test]
async fn without_a_preselection_every_product_starts_ticked() {
    let app = with_products(None).await;
    let url = session_url(&app, Value::Null, None).await;
    let page = browser()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ticked: Vec<bool> = product_boxes(&page).into_iter().map(|(_, t)| t).collect();
    assert_eq!(ticked, [true, true, true]);
}

#[tokio::test]
async fn unknown_products_are_refused_when_the_session_is_made() {
    let app = with_products(None).await;
    for products in [json!(["video"]), json!(["Webinar"]), json!(["a b"])] {
        let body = json!({ "org": "acme", "email": "ann@acme.test", "app_type": "user", "products": products });
        let response = app
            .send_json(reqwest::Method::POST, "/api/v1/connect-sessions", body)
            .await;
        assert_eq!(
            error_code(response, StatusCode::BAD_REQUEST).await,
            "unknown_product",
            "{products}"
        );
    }
    // The document's maxItems holds: 50 names pass, 51 are refused.
    for (count, status) in [(50, StatusCode::CREATED), (51, StatusCode::BAD_REQUEST)] {
        let names: Vec<&str> = std::iter::repeat_n("webinar", count).collect();
        let body = json!({ "org": "acme", "email": "ann@acme.test", "app_type": "user", "products": names });
        let response = app
            .send_json(reqwest::Method::POST, "/api/v1/connect-sessions", body)
            .await;
        assert_eq!(response.status(), status, "{count} names");
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(error_code(response, status).await, "invalid_products");
        }
    }
    // A deployment without products knows none.
    let plain = spawn_app().await;
    let body = json!({ "org": "acme", "email": "ann@acme.test", "app_type": "user", "products": ["webinar"] });
    let response = plain
        .send_json(reqwest::Method::POST, "/api/v1/connect-sessions", body)
        .await;
    assert_eq!(
        error_code(response, StatusCode::BAD_REQUEST).await,
        "unknown_product"
    );
}

#[tokio::test]
async fn a_form_without_products_or_with_a_foreign_one_leaves_the_link_usable() {
    let app = with_products(None).await;
    let url = session_url(&app, Value::Null, None).await;
    let browser = browser();
    for ticked in [&[][..], &["video"][..]] {
        let refused = confirm(&browser, &url, ticked).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{ticked:?}");
        let text = refused.text().await.unwrap();
        assert!(text.contains("Please choose what to connect"), "{text}");
    }
    assert_eq!(
        app.counters().authorize_decisions,
        0,
        "nothing went to Zoom"
    );
    let to_zoom = confirm(&browser, &url, &["webinar"]).await;
    assert_eq!(to_zoom.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query(&location(&to_zoom))["scope"],
        "user:read webinar:read"
    );
}

#[tokio::test]
async fn a_grant_without_a_required_scope_is_refused_revoked_and_not_stored() {
    let app = with_products(Some("user:read meeting:write")).await;
    let return_to = format!("{RETURN_ORIGIN}/zoom/done");
    let url = session_url(&app, Value::Null, Some(&return_to)).await;
    let browser = browser();
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("user:read meeting:write"),
        "the page names the required scopes"
    );
    // The person unticks the product that carries meeting:write.
    let to_zoom = confirm(&browser, &url, &["webinar"]).await;
    let callback = decide_on_zoom(
        &browser,
        &location(&to_zoom),
        "ann@acme.test",
        "Member",
        "allow",
    )
    .await;
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = query(&location(&done));
    assert_eq!(back["status"], "missing_scopes");
    assert!(!back.contains_key("connection_id"));

    assert!(app.connections().await.is_empty(), "nothing is stored");
    assert_eq!(
        app.sandbox.live_grants(),
        0,
        "the grant was revoked at Zoom"
    );
    let audit: Value = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["events"][0]["action"], "authorization.missing_scopes");
    assert_eq!(audit["events"][0]["outcome"], "refused");
    let detail = audit["events"][0]["detail"].as_str().unwrap();
    assert!(detail.ends_with("meeting:write"), "{detail}");
}

#[tokio::test]
async fn the_refusal_page_names_the_missing_scopes() {
    let app = with_products(Some("phone:read webinar:read")).await;
    let url = session_url(&app, Value::Null, None).await;
    let browser = browser();
    let to_zoom = confirm(&browser, &url, &["meetings", "webinar"]).await;
    let callback = decide_on_zoom(
        &browser,
        &location(&to_zoom),
        "ann@acme.test",
        "Member",
        "allow",
    )
    .await;
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    let text = done.text().await.unwrap();
    assert!(text.contains("Zoom did not grant what the CRM needs"));
    assert!(text.contains("<code>phone:read</code>"), "{text}");
    assert!(
        !text.contains("<code>webinar:read</code>"),
        "webinar:read was granted"
    );
    assert!(app.connections().await.is_empty());
    assert_eq!(app.sandbox.live_grants(), 0);
}

#[tokio::test]
async fn a_grant_with_every_required_scope_connects_and_keeps_its_scopes() {
    let app = with_products(Some("meeting:write")).await;
    let return_to = format!("{RETURN_ORIGIN}/zoom/done");
    let url = session_url(&app, json!(["meetings"]), Some(&return_to)).await;
    let browser = browser();
    let to_zoom = confirm(&browser, &url, &["meetings"]).await;
    let callback = decide_on_zoom(
        &browser,
        &location(&to_zoom),
        "ann@acme.test",
        "Member",
        "allow",
    )
    .await;
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(query(&location(&done))["status"], "connected");
    let connections = app.connections().await;
    assert_eq!(connections.len(), 1);
    assert_eq!(
        connections[0]["scopes"],
        json!(["user:read", "meeting:read", "meeting:write"]),
        "{connections:?}"
    );
}

//! Every API operation needs a stated key scope. The table below is the
//! README's scope table as data: an operation in the OpenAPI document that
//! is missing here fails the first test, so a new route cannot ship without
//! deciding its scope; the second calls each one with a key holding every
//! scope but the needed one(s), and expects `403 insufficient_scope`.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

const ALL: [&str; 5] = [
    "tokens:read",
    "connect",
    "credentials",
    "admin",
    "zoom:proxy",
];

/// operation id → the scopes any one of which allows it.
fn table() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("get_token", &["tokens:read"]),
        ("list_connections", &["tokens:read"]),
        ("show_connection", &["tokens:read"]),
        ("disconnect", &["connect", "admin"]),
        ("create_connect_session", &["connect"]),
        ("list_events", &["tokens:read"]),
        ("create_sdk_signature", &["tokens:read"]),
        ("put_jwt_credentials", &["credentials"]),
        ("delete_jwt_credentials", &["credentials"]),
        ("list_jwt_credentials", &["credentials"]),
        ("delete_jwt_credentials_entry", &["credentials"]),
        ("put_s2s_credentials", &["credentials"]),
        ("delete_s2s_credentials", &["credentials"]),
        ("list_s2s_credentials", &["credentials"]),
        ("delete_s2s_credentials_entry", &["credentials"]),
        ("put_sdk_credentials", &["credentials"]),
        ("delete_sdk_credentials", &["credentials"]),
        ("put_oauth_app", &["credentials"]),
        ("get_oauth_app", &["credentials"]),
        ("delete_oauth_app", &["credentials"]),
        ("create_admin_link", &["admin"]),
        ("list_audit_events", &["admin"]),
        ("migration_report", &["admin"]),
        ("create_api_key", &["admin"]),
        ("list_api_keys", &["admin"]),
        ("revoke_api_key", &["admin"]),
        ("proxy_as_user_get", &["zoom:proxy"]),
        ("proxy_as_user_post", &["zoom:proxy"]),
        ("proxy_as_user_put", &["zoom:proxy"]),
        ("proxy_as_user_patch", &["zoom:proxy"]),
        ("proxy_as_user_delete", &["zoom:proxy"]),
        ("proxy_as_org_get", &["zoom:proxy"]),
        ("proxy_as_org_post", &["zoom:proxy"]),
        ("proxy_as_org_put", &["zoom:proxy"]),
        ("proxy_as_org_patch", &["zoom:proxy"]),
        ("proxy_as_org_delete", &["zoom:proxy"]),
    ]
}

/// A well-formed body, so the scope check is what answers.
fn body(operation: &str) -> Option<Value> {
    Some(match operation {
        "create_connect_session" => {
            json!({ "org": "acme", "email": "a@acme.example", "app_type": "user" })
        }
        "put_jwt_credentials" => json!({ "api_key": "k", "api_secret": "s" }),
        "put_s2s_credentials" => json!({ "email": "a@acme.example", "account_id": "a",
            "client_id": "c", "client_secret": "s" }),
        "put_sdk_credentials" => json!({ "sdk_key": "k", "sdk_secret": "s" }),
        "create_sdk_signature" => json!({ "meeting_number": 123456789, "role": 0 }),
        "put_oauth_app" => json!({ "client_id": "c", "client_secret": "s", "app_type": "user" }),
        "create_admin_link" => json!({ "email": "a@acme.example" }),
        "create_api_key" => json!({ "org": "acme" }),
        _ => return None,
    })
}

/// `(operation id, method, path)` of every `/api/v1` operation in the document.
fn operations() -> Vec<(String, Method, String)> {
    let doc = serde_json::to_value(tokenbroker::openapi::document()).unwrap();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(id) = op["operationId"].as_str() else {
                continue;
            };
            // An operation open to anyone says `security: []`; the others
            // inherit the document's API key requirement.
            let public = op["security"].as_array().is_some_and(|s| s.is_empty());
            // The document itself is public.
            if path.starts_with("/api/v1/") && !public && id != "openapi" {
                let method = method.to_ascii_uppercase().parse().unwrap();
                found.push((id.to_string(), method, path.clone()));
            }
        }
    }
    found
}

#[test]
fn every_operation_has_a_stated_scope() {
    let documented: BTreeSet<String> = operations().into_iter().map(|(id, ..)| id).collect();
    let stated: BTreeSet<String> = table().iter().map(|(id, _)| id.to_string()).collect();
    assert!(documented.len() >= 20, "{documented:?}");
    assert_eq!(documented, stated, "operations and the scope table differ");
}

#[tokio::test]
async fn a_key_lacking_the_scope_gets_403_on_every_operation() {
    let app = spawn_app().await;
    let operator = app.all_orgs_key().await;
    for (id, method, path) in operations() {
        let needed = table()
            .into_iter()
            .find(|(op, _)| *op == id)
            .map(|(_, scopes)| scopes)
            .unwrap();
        let scopes: Vec<&str> = ALL.into_iter().filter(|s| !needed.contains(s)).collect();
        let created: Value = app
            .api
            .post(format!("{}/api/v1/api-keys", app.base))
            .bearer_auth(&operator)
            .json(&json!({ "org": "acme", "scopes": scopes }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = created["key"].as_str().expect("a key").to_string();
        let url = path
            .replace("{org}", "acme")
            .replace("{email}", "a@acme.example")
            .replace("{id}", "0123456789abcdef")
            .replace("{path}", "users/me");
        let mut request = app
            .api
            .request(method.clone(), format!("{}{url}", app.base))
            .bearer_auth(&key);
        if let Some(body) = body(&id) {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} ({id}) with scopes {scopes:?}"
        );
        assert_eq!(
            error_code(response, StatusCode::FORBIDDEN).await,
            "insufficient_scope",
            "{method} {path} ({id}) with scopes {scopes:?}"
        );
    }
}

//! One org's key never sees or changes another org's data.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn orgs_are_strictly_isolated() {
    let app = spawn_app().await;
    let id = app.connect("ann@acme.example", "user", "Member").await;
    let (_, globex_key) = app.new_org_key("globex").await;
    let paths = [
        "/api/v1/orgs/acme/connections".to_string(),
        format!("/api/v1/orgs/acme/connections/{id}"),
        "/api/v1/orgs/acme/users/ann@acme.example/token".to_string(),
        "/api/v1/orgs/acme/audit".to_string(),
    ];
    for path in &paths {
        let response = app.get_as(&globex_key, path).await;
        assert_eq!(
            error_code(response, StatusCode::NOT_FOUND).await,
            "not_found",
            "{path}"
        );
    }
    // Globex's own view knows nothing of acme's connection, even by id.
    let own = app
        .get_as(
            &globex_key,
            &format!("/api/v1/orgs/globex/connections/{id}"),
        )
        .await;
    assert_eq!(own.status(), StatusCode::NOT_FOUND);
    let token = app
        .get_as(
            &globex_key,
            "/api/v1/orgs/globex/users/ann@acme.example/token",
        )
        .await;
    assert_eq!(
        error_code(token, StatusCode::NOT_FOUND).await,
        "not_connected"
    );
    let delete = app
        .api
        .delete(format!("{}/api/v1/orgs/globex/connections/{id}", app.base))
        .bearer_auth(&globex_key)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    let session = app
        .api
        .request(
            Method::POST,
            format!("{}/api/v1/connect-sessions", app.base),
        )
        .bearer_auth(&globex_key)
        .json(&json!({ "org": "acme", "email": "x@acme.example", "app_type": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.connections().await.len(), 1);
}

#[tokio::test]
async fn an_account_connection_serves_only_its_own_org() {
    let app = spawn_app().await;
    app.connect("boss@acme.example", "account", "Owner").await;
    let (_, globex_key) = app.new_org_key("globex").await;
    let token = app
        .get_as(
            &globex_key,
            "/api/v1/orgs/globex/users/boss@acme.example/token",
        )
        .await;
    assert_eq!(token.status(), StatusCode::NOT_FOUND);
}

use reqwest::StatusCode;

use crate::helpers::{error_code, spawn_app};

#[tokio::test]
async fn missing_malformed_and_unknown_keys_get_401() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/orgs/acme/connections", app.base);
    let none = app.api.get(&url).send().await.unwrap();
    assert_eq!(
        error_code(none, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    for bad in [
        "nope",
        "tb_zz_zz",
        "tb_0123456789abcdef_wrongsecret",
        &app.api_key.replace("tb_", "xx_"),
    ] {
        let response = app.get_as(bad, "/api/v1/orgs/acme/connections").await;
        assert_eq!(
            error_code(response, StatusCode::UNAUTHORIZED).await,
            "unauthorized",
            "{bad}"
        );
    }
    // Right id, wrong secret.
    let mut tampered = app.api_key.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let response = app.get_as(&tampered, "/api/v1/orgs/acme/connections").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keys_are_scoped_to_their_org() {
    let app = spawn_app().await;
    let (_, other_key) = app.new_org_key("globex").await;
    let response = app
        .get_as(&other_key, "/api/v1/orgs/acme/connections")
        .await;
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let own = app
        .get_as(&other_key, "/api/v1/orgs/globex/connections")
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let all = app.all_orgs_key().await;
    assert_eq!(
        app.get_as(&all, "/api/v1/orgs/acme/connections")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_as(&all, "/api/v1/orgs/globex/connections")
            .await
            .status(),
        StatusCode::OK
    );
    let missing = app.get_as(&all, "/api/v1/orgs/initech/connections").await;
    assert_eq!(
        error_code(missing, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn api_keys_have_a_prefix_and_256_bit_secret_and_only_a_hash_is_stored() {
    let app = spawn_app().await;
    let mut parts = app.api_key.splitn(3, '_');
    assert_eq!(parts.next(), Some("tb"));
    let id = parts.next().unwrap();
    let secret = parts.next().unwrap();
    assert_eq!(secret.len(), 43, "32 bytes of base64url");
    let row = app.app.store.api_key(id).await.unwrap().unwrap();
    assert_ne!(row.secret_hash, secret);
    assert_eq!(
        row.secret_hash,
        tokenbroker::crypto::sha256_hex(secret.as_bytes())
    );
}

/// A revoked key answers 401 at once in the process that revoked it.
#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = crate::helpers::spawn_app().await;
    assert_eq!(
        app.get("/api/v1/orgs/acme/connections").await.status(),
        reqwest::StatusCode::OK
    );
    let id = app.api_key.split('_').nth(1).unwrap().to_string();
    let actor = tokenbroker::domain::Actor::Cli;
    tokenbroker::service::api_keys::revoke(&app.app.store, Some(&app.app), &id, &actor, 0)
        .await
        .unwrap();
    let refused = app.get("/api/v1/orgs/acme/connections").await;
    assert_eq!(
        crate::helpers::error_code(refused, reqwest::StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
}

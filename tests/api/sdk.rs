//! Meeting SDK credentials and signatures (Zoom's SDK JWT Auth format).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app, TestApp};

async fn put_sdk(app: &TestApp) -> reqwest::Response {
    app.send_json(
        Method::PUT,
        "/api/v1/orgs/acme/sdk-credentials",
        json!({ "sdk_key": "abcSDKkey", "sdk_secret": "sdk-secret-xyz" }),
    )
    .await
}

async fn sign(app: &TestApp, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, "/api/v1/orgs/acme/sdk-signature", body)
        .await
}

/// Checks the HS256 signature with the `jsonwebtoken` crate's decoder (a
/// separate code path from our signer) and returns header and claims.
fn decode(signature: &str, secret: &str) -> (Value, Value) {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Value>(
        signature,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap();
    let header = serde_json::to_value(&data.header).unwrap();
    (header, data.claims)
}

#[tokio::test]
async fn signatures_carry_zooms_claims() {
    let app = spawn_app().await;
    assert_eq!(put_sdk(&app).await.status(), StatusCode::NO_CONTENT);
    let now = app.app.clock.now();
    let response = sign(
        &app,
        json!({ "meeting_number": "85746065432", "role": 1, "expires_in_secs": 3600 }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sdk_key"], "abcSDKkey");
    let (header, claims) = decode(body["signature"].as_str().unwrap(), "sdk-secret-xyz");
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["appKey"], "abcSDKkey");
    assert_eq!(claims["sdkKey"], "abcSDKkey");
    assert_eq!(claims["mn"], "85746065432");
    assert_eq!(claims["role"], 1);
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - (now - 30)).abs() <= 2, "iat is 30 s back: {claims}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
    assert_eq!(claims["tokenExp"], claims["exp"]);
    let exp = claims["exp"].as_i64().unwrap();
    let expires_at = time::OffsetDateTime::parse(
        body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_at.unix_timestamp(), exp);

    // An integer meeting number, role 0, the default lifetime of 2 h.
    let body: Value = sign(&app, json!({ "meeting_number": 123456789, "role": 0 }))
        .await
        .json()
        .await
        .unwrap();
    let (_, claims) = decode(body["signature"].as_str().unwrap(), "sdk-secret-xyz");
    assert_eq!(claims["mn"], "123456789");
    assert_eq!(claims["role"], 0);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );
    // JSON Schema's integers include 9.0: a whole number written as a float is accepted.
    let body: Value = sign(
        &app,
        json!({ "meeting_number": 123456789.0, "role": 1.0, "expires_in_secs": 3600.0 }),
    )
    .await
    .json()
    .await
    .unwrap();
    let (_, claims) = decode(body["signature"].as_str().unwrap(), "sdk-secret-xyz");
    assert_eq!(claims["mn"], "123456789");
    assert_eq!(claims["role"], 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // Zoom's bounds are accepted.
    for secs in [1800, 172_800] {
        let ok = sign(
            &app,
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": secs }),
        )
        .await;
        assert_eq!(ok.status(), StatusCode::OK, "{secs}");
    }

    // Secrets are never shown, not even in the audit log.
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("sdk_credentials.set"), "{audit}");
    assert!(!audit.contains("sdk-secret-xyz"));
    let row = app.app.store.sdk(&app.org.id).await.unwrap().unwrap();
    assert!(row.sdk_secret.starts_with("tbx1.") && !row.sdk_secret.contains("sdk-secret-xyz"));
}

#[tokio::test]
async fn every_bad_signature_request_is_a_clear_400() {
    let app = spawn_app().await;
    put_sdk(&app).await;
    let cases = [
        (
            json!({ "meeting_number": 12345678, "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": 123456789012_i64, "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": "12345abcd", "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": "", "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": -123456789, "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": 123456789.5, "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": null, "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": [123456789], "role": 0 }),
            "invalid_meeting_number",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 2 }),
            "invalid_role",
        ),
        (
            json!({ "meeting_number": 123456789, "role": -1 }),
            "invalid_role",
        ),
        (
            json!({ "meeting_number": 123456789, "role": "1" }),
            "invalid_role",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 1.5 }),
            "invalid_role",
        ),
        (
            json!({ "meeting_number": 123456789, "role": null }),
            "invalid_role",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": 1799 }),
            "invalid_expires_in_secs",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": 172_801 }),
            "invalid_expires_in_secs",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": 0 }),
            "invalid_expires_in_secs",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": "7200" }),
            "invalid_expires_in_secs",
        ),
        (
            json!({ "meeting_number": 123456789, "role": 0, "expires_in_secs": 7200.5 }),
            "invalid_expires_in_secs",
        ),
        (json!({ "meeting_number": 123456789 }), "invalid_body"),
        (json!({ "role": 0 }), "invalid_body"),
    ];
    for (body, code) in cases {
        let response = sign(&app, body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"], code, "{body} → {answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty());
    }
    let refused = sign(&app, json!({ "meeting_number": 123456789, "role": 7 })).await;
    let answer: Value = refused.json().await.unwrap();
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("0 (attendee) or 1 (host)"));
}

#[tokio::test]
async fn without_credentials_there_is_no_signature() {
    let app = spawn_app().await;
    let body = json!({ "meeting_number": 123456789, "role": 0 });
    assert_eq!(
        error_code(sign(&app, body.clone()).await, StatusCode::CONFLICT).await,
        "sdk_credentials_missing"
    );
    put_sdk(&app).await;
    assert_eq!(sign(&app, body.clone()).await.status(), StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(
            app.delete("/api/v1/orgs/acme/sdk-credentials")
                .await
                .status(),
            StatusCode::NO_CONTENT,
            "idempotent"
        );
    }
    assert_eq!(
        error_code(sign(&app, body.clone()).await, StatusCode::CONFLICT).await,
        "sdk_credentials_missing"
    );
    for bad in [
        json!({ "sdk_key": "", "sdk_secret": "s" }),
        json!({ "sdk_key": "k", "sdk_secret": "   " }),
    ] {
        assert_eq!(
            error_code(
                app.send_json(Method::PUT, "/api/v1/orgs/acme/sdk-credentials", bad)
                    .await,
                StatusCode::BAD_REQUEST
            )
            .await,
            "invalid_field"
        );
    }
    assert_eq!(
        error_code(
            app.send_json(
                Method::PUT,
                "/api/v1/orgs/acme/sdk-credentials",
                json!({ "sdk_key": "k" })
            )
            .await,
            StatusCode::BAD_REQUEST
        )
        .await,
        "invalid_body"
    );
    // Another org's key cannot sign with acme's app.
    put_sdk(&app).await;
    let (_, other) = app.new_org_key("globex").await;
    let response = app
        .api
        .post(format!("{}/api/v1/orgs/acme/sdk-signature", app.base))
        .bearer_auth(&other)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response, StatusCode::NOT_FOUND).await,
        "not_found"
    );
    let audit = app
        .get("/api/v1/orgs/acme/audit")
        .await
        .text()
        .await
        .unwrap();
    assert!(audit.contains("sdk_credentials.removed"), "{audit}");
}

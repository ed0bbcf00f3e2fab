//! Migration 0011 on a database holding pre-0011 credentials: the rows keep
//! their ids, so their sealed secrets (bound to the row id) still open, the
//! S2S row keeps its email, and the JWT key becomes the org-wide entry.

use std::borrow::Cow;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::migrate::Migrator;
use tokenbroker::crypto::{Aad, Keyring, SealedColumn};

use crate::helpers::{execute_sql, fresh_database, spawn_app_on};

/// Every migration before 0011, as a database deployed with 0.1 has them.
async fn migrate_to_0010(url: &str) {
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut migrator = Migrator::new(dir).await.unwrap();
    let before: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect();
    assert!(before.len() >= 7);
    migrator.migrations = Cow::Owned(before);
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        pool.close().await;
    }
}

#[tokio::test]
async fn pre_0011_credentials_survive_the_migration() {
    let (url, db) = fresh_database().await;
    migrate_to_0010(&url).await;
    let key = Keyring::generate_key_b64();
    let master = format!("k1:{key}");
    let ring = Keyring::parse(&master).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let seal = |column, id: &str, value: &str| ring.seal_str(Aad::new(column, id), value);
    let client_secret = seal(
        SealedColumn::S2S_CLIENT_SECRET,
        "s2s-old-id",
        "old-client-secret",
    );
    let access = seal(
        SealedColumn::S2S_ACCESS_TOKEN,
        "s2s-old-id",
        "old-s2s-access",
    );
    let jwt_secret = seal(SealedColumn::JWT_API_SECRET, "jwt-old-id", "old-jwt-secret");
    let expires = now + 7200;
    let created = now - 100;
    execute_sql(
        &url,
        &[
            format!("INSERT INTO orgs (id, slug, name, created_at) VALUES ('org-legacy', 'legacy', 'Legacy', {created})"),
            format!(
                "INSERT INTO s2s_credentials (id, org_id, email, account_id, client_id, client_secret, \
                 access_token, access_expires_at, scopes, version, lease_owner, lease_until, \
                 last_refreshed_at, created_at, updated_at) VALUES ('s2s-old-id', 'org-legacy', \
                 'ops@legacy.example', 'acct-old', 'client-old', '{client_secret}', '{access}', \
                 {expires}, 'meeting:read', 0, NULL, NULL, {created}, {created}, {created})"
            ),
            format!(
                "INSERT INTO jwt_credentials (id, org_id, api_key, api_secret, created_at, updated_at) \
                 VALUES ('jwt-old-id', 'org-legacy', 'old-key', '{jwt_secret}', {created}, {created})"
            ),
        ],
    )
    .await;

    let app = spawn_app_on(
        url,
        db,
        &[
            ("TOKENBROKER_MASTER_KEY", master.as_str()),
            ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
            (
                "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
                "2099-06-01T00:00:00Z",
            ),
        ],
    )
    .await;
    let all = app.all_orgs_key().await;
    let get = |path: &'static str| {
        let app = &app;
        let all = all.clone();
        async move {
            let response = app.get_as(&all, path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };

    let s2s = get("/api/v1/orgs/legacy/s2s-credentials").await;
    assert_eq!(s2s.as_array().unwrap().len(), 1);
    assert_eq!(s2s[0]["email"], "ops@legacy.example");
    assert_eq!(s2s[0]["account_id"], "acct-old");
    let jwt = get("/api/v1/orgs/legacy/jwt-credentials").await;
    assert_eq!(jwt.as_array().unwrap().len(), 1);
    assert!(
        jwt[0]["email"].is_null(),
        "the old key is the org-wide entry: {jwt}"
    );
    assert_eq!(jwt[0]["api_key_hint"], "old-…");

    // The stored S2S token opens: same row id, same associated data.
    let token = get("/api/v1/orgs/legacy/users/ann@legacy.example/token").await;
    assert_eq!(token["auth_type"], "s2s");
    assert_eq!(token["access_token"], "old-s2s-access");
    assert_eq!(token["account_email"], "ops@legacy.example");
    assert_eq!(app.counters().account_credentials, 0, "nothing minted");

    // Without S2S, the old JWT secret opens and signs.
    let removed = app
        .api
        .delete(format!(
            "{}/api/v1/orgs/legacy/s2s-credentials/ops@legacy.example",
            app.base
        ))
        .bearer_auth(&all)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let token = get("/api/v1/orgs/legacy/users/ann@legacy.example/token").await;
    assert_eq!(token["auth_type"], "jwt", "{token}");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        token["access_token"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(b"old-jwt-secret"),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["iss"], "old-key");

    // A second entry, per email, fits beside it now.
    let put = app
        .api
        .put(format!("{}/api/v1/orgs/legacy/jwt-credentials", app.base))
        .bearer_auth(&all)
        .json(&json!({ "email": "bob@legacy.example", "api_key": "bob-key", "api_secret": "b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get("/api/v1/orgs/legacy/jwt-credentials")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

//! The command line: contract commands, clear configuration errors, key rotation.

use std::process::Output;

use tokenbroker::crypto::{Aad, Keyring, SealedColumn};
use tokenbroker::store::{self, JwtCredentials, SEALED_COLUMNS};

use crate::helpers::{create_org, fresh_database};
use crate::process::run;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test]
async fn bad_configuration_names_the_variable_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _guard) = fresh_database().await;
    let key = Keyring::generate_key_b64();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("DATABASE_URL", &db)], "TOKENBROKER_MASTER_KEY"),
        (
            vec![
                ("DATABASE_URL", &db),
                ("TOKENBROKER_MASTER_KEY", "not-base64!"),
            ],
            "TOKENBROKER_MASTER_KEY",
        ),
        (
            vec![
                ("DATABASE_URL", "mysql://localhost/x"),
                ("TOKENBROKER_MASTER_KEY", &key),
            ],
            "DATABASE_URL",
        ),
        (
            vec![
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nope"),
                ("TOKENBROKER_MASTER_KEY", &key),
            ],
            "DATABASE_URL",
        ),
        (
            vec![
                ("DATABASE_URL", &db),
                ("TOKENBROKER_MASTER_KEY", &key),
                ("TOKENBROKER_JWT_CUTOFF", "next tuesday"),
            ],
            "TOKENBROKER_JWT_CUTOFF",
        ),
        (
            vec![
                ("DATABASE_URL", &db),
                ("TOKENBROKER_MASTER_KEY", &key),
                // Shorter than the 95 s refresh lease.
                ("TOKENBROKER_REFRESH_AHEAD_SECS", "60"),
            ],
            "TOKENBROKER_REFRESH_AHEAD_SECS",
        ),
    ];
    for (vars, var) in cases {
        let out = run(dir.path(), &["serve"], &vars);
        assert_eq!(out.status.code(), Some(2), "{var}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
        assert!(err.contains(var), "{err}");
    }
}

#[tokio::test]
async fn orgs_and_api_keys_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _guard) = fresh_database().await;
    let vars = [("DATABASE_URL", db.as_str())];
    let migrate = run(dir.path(), &["migrate"], &vars);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let created = run(
        dir.path(),
        &["org", "create", "acme", "--name", "Acme Inc"],
        &vars,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let again = run(dir.path(), &["org", "create", "acme"], &vars);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"));
    let key = run(dir.path(), &["api-key", "create", "--org", "acme"], &vars);
    assert!(key.status.success(), "{}", stderr(&key));
    let last = stdout(&key).lines().last().unwrap().to_string();
    assert!(
        last.starts_with("tb_") && last.len() == 3 + 16 + 1 + 43,
        "{last}"
    );
    let all = run(dir.path(), &["api-key", "create", "--all-orgs"], &vars);
    assert!(stdout(&all).lines().last().unwrap().starts_with("tb_"));
    let missing = run(dir.path(), &["api-key", "create", "--org", "nope"], &vars);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"));
    let gen = run(dir.path(), &["gen-key"], &[]);
    assert!(Keyring::parse(stdout(&gen).trim()).is_ok());

    // List shows ids, orgs and labels, never a secret; revoke makes a key useless.
    let labelled = run(
        dir.path(),
        &[
            "api-key",
            "create",
            "--org",
            "acme",
            "--label",
            "billing app",
        ],
        &vars,
    );
    let labelled_key = stdout(&labelled).lines().last().unwrap().to_string();
    let id = labelled_key.split('_').nth(1).unwrap().to_string();
    let listed = run(dir.path(), &["api-key", "list"], &vars);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listing = stdout(&listed);
    assert!(
        listing.contains(&id) && listing.contains("billing app"),
        "{listing}"
    );
    for key in [&last, &labelled_key] {
        let secret = key.splitn(3, '_').nth(2).unwrap();
        assert!(!listing.contains(secret), "a secret was listed");
    }
    let only_acme = stdout(&run(
        dir.path(),
        &["api-key", "list", "--org", "acme"],
        &vars,
    ));
    assert_eq!(
        only_acme.lines().count(),
        3,
        "a header and acme's two keys: {only_acme}"
    );
    let revoked = run(dir.path(), &["api-key", "revoke", &id], &vars);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let store = store::connect(&db).await.unwrap();
    assert!(store
        .api_key(&id)
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let unknown = run(
        dir.path(),
        &["api-key", "revoke", "0000000000000000"],
        &vars,
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("not found"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn rotate_keys_reseals_everything_and_is_safe_to_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _guard) = fresh_database().await;
    let (old, new) = (Keyring::generate_key_b64(), Keyring::generate_key_b64());
    let old_ring = Keyring::parse(&format!("k0:{old}")).unwrap();
    {
        let store = store::connect(&db).await.unwrap();
        for slug in ["acme", "globex", "initech"] {
            let org = create_org(&store, slug).await;
            let id = uuid::Uuid::new_v4().to_string();
            let sealed = old_ring.seal_str(
                Aad::new(SealedColumn::JWT_API_SECRET, &id),
                &format!("secret-{slug}"),
            );
            store
                .put_jwt(&JwtCredentials {
                    id,
                    org_id: org.id,
                    email: String::new(),
                    api_key: "k".into(),
                    api_secret: sealed,
                    created_at: 0,
                    updated_at: 0,
                })
                .await
                .unwrap();
        }
    }
    let both = format!("k1:{new},k0:{old}");
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("TOKENBROKER_MASTER_KEY", both.as_str()),
    ];
    let first = run(dir.path(), &["rotate-keys"], &vars);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("3 re-encrypted under \"k1\", 0 already current"),
        "{}",
        stdout(&first)
    );
    let second = run(dir.path(), &["rotate-keys"], &vars);
    assert!(
        stdout(&second).contains("0 re-encrypted under \"k1\", 3 already current"),
        "{}",
        stdout(&second)
    );
    // Only the new key is needed now.
    let new_ring = Keyring::parse(&format!("k1:{new}")).unwrap();
    let store = store::connect(&db).await.unwrap();
    for column in SEALED_COLUMNS
        .iter()
        .filter(|c| c.table == "jwt_credentials")
    {
        for cell in store.sealed_cells(*column, "", 100).await.unwrap() {
            assert!(new_ring
                .open(Aad::new(*column, &cell.id), &cell.sealed)
                .is_ok());
        }
    }
    // A key that can open nothing leaves data untouched and fails loudly.
    let stranger = format!("k9:{}", Keyring::generate_key_b64());
    let wrong = run(
        dir.path(),
        &["rotate-keys"],
        &[
            ("DATABASE_URL", db.as_str()),
            ("TOKENBROKER_MASTER_KEY", stranger.as_str()),
        ],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stdout(&wrong).contains("3 failed"), "{}", stdout(&wrong));
}

/// Every sealed column (connection tokens, S2S secret and token, JWT secret,
/// PKCE verifier, Meeting SDK secret) is re-sealed beside a running server that keeps refreshing;
/// a wrong key leaves every value untouched.
#[tokio::test]
async fn rotate_keys_reseals_every_column_beside_a_running_server() {
    use tokenbroker::sandbox::S2sApp;
    let old = Keyring::generate_key_b64();
    let app = crate::helpers::spawn_app_with(&[
        ("TOKENBROKER_MASTER_KEY", &format!("k0:{old}")),
        ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
        (
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
            "2099-06-01T00:00:00Z",
        ),
    ])
    .await;
    app.connect("ann@acme.example", "user", "Member").await;
    app.sandbox.register_s2s_app(S2sApp {
        account_id: "acct-1".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
    let s2s = serde_json::json!({ "email": "ops@acme.example", "account_id": "acct-1",
        "client_id": "s2s-id", "client_secret": "s2s-secret" });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/s2s-credentials",
            s2s,
        )
        .await;
    assert_eq!(put.status(), reqwest::StatusCode::NO_CONTENT);
    let jwt = serde_json::json!({ "api_key": "k", "api_secret": "jwt-secret" });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/jwt-credentials",
            jwt,
        )
        .await;
    assert_eq!(put.status(), reqwest::StatusCode::NO_CONTENT);
    // An org's own Zoom app, with its sealed secret and webhook token.
    let own = serde_json::json!({ "client_id": "own-id", "client_secret": "own-secret",
        "app_type": "account", "webhook_secret_token": "own-hook" });
    let put = app
        .send_json(reqwest::Method::PUT, "/api/v1/orgs/acme/oauth-app", own)
        .await;
    assert_eq!(put.status(), reqwest::StatusCode::NO_CONTENT);
    let sdk = serde_json::json!({ "sdk_key": "sk", "sdk_secret": "sdk-secret" });
    let put = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/orgs/acme/sdk-credentials",
            sdk,
        )
        .await;
    assert_eq!(put.status(), reqwest::StatusCode::NO_CONTENT);
    // A pending authorization, with its sealed PKCE verifier.
    let url = app.connect_url("bob@acme.example", "user", None).await;
    crate::helpers::submit_link_page(&crate::helpers::browser(), &url).await;

    let db = app.database_url();
    let store = &app.app.store;
    let snapshot = || async {
        let mut cells = Vec::new();
        for column in SEALED_COLUMNS {
            for cell in store.sealed_cells(*column, "", 100).await.unwrap() {
                cells.push((*column, cell.id, cell.sealed));
            }
        }
        cells
    };
    let before = snapshot().await;
    // Written out here, not taken from the code: every column that holds a secret.
    let expected = [
        ("connections", "access_token"),
        ("connections", "refresh_token"),
        ("s2s_credentials", "client_secret"),
        ("s2s_credentials", "access_token"),
        ("jwt_credentials", "api_secret"),
        ("pending_authorizations", "pkce_verifier"),
        ("org_oauth_apps", "client_secret"),
        ("org_oauth_apps", "webhook_secret_token"),
        ("sdk_credentials", "sdk_secret"),
    ];
    for (table, col) in expected {
        assert!(
            SEALED_COLUMNS
                .iter()
                .any(|c| c.table == table && c.column == col),
            "rotate-keys does not walk {table}.{col}"
        );
    }
    for column in SEALED_COLUMNS {
        assert!(
            before.iter().any(|(c, _, _)| c == column),
            "{column:?} has a value to rotate"
        );
    }

    // A wrong key: nothing opens, nothing changes, the command fails.
    let dir = tempfile::tempdir().unwrap();
    let stranger = format!("k9:{}", Keyring::generate_key_b64());
    let wrong = run(
        dir.path(),
        &["rotate-keys"],
        &[
            ("DATABASE_URL", db.as_str()),
            ("TOKENBROKER_MASTER_KEY", stranger.as_str()),
        ],
    );
    assert_eq!(wrong.status.code(), Some(1));
    assert_eq!(
        snapshot().await,
        before,
        "a wrong key changed stored values"
    );

    // The rotation runs while a replica with both keys keeps serving and refreshing.
    let new = Keyring::generate_key_b64();
    let both = format!("k1:{new},k0:{old}");
    let replica = app
        .second_server(&[("TOKENBROKER_MASTER_KEY", &both)])
        .await;
    let (db2, both2) = (db.clone(), both.clone());
    let dir_path = dir.path().to_path_buf();
    let rotation = tokio::task::spawn_blocking(move || {
        run(
            &dir_path,
            &["rotate-keys"],
            &[("DATABASE_URL", &db2), ("TOKENBROKER_MASTER_KEY", &both2)],
        )
    });
    let api = reqwest::Client::new();
    for _ in 0..5 {
        app.app.clock.advance(3_600);
        let answer = api
            .get(format!(
                "{}/api/v1/orgs/acme/users/ann@acme.example/token",
                replica.base
            ))
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::OK);
    }
    let rotated = rotation.await.unwrap();
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    // Whatever the refreshes wrote meanwhile, a second run finds it all current.
    let again = run(
        dir.path(),
        &["rotate-keys"],
        &[("DATABASE_URL", &db), ("TOKENBROKER_MASTER_KEY", &both)],
    );
    assert!(stdout(&again).contains("0 failed"), "{}", stdout(&again));
    let new_ring = Keyring::parse(&format!("k1:{new}")).unwrap();
    let old_ring = Keyring::parse(&format!("k0:{old}")).unwrap();
    for (column, id, sealed) in snapshot().await {
        let opened = new_ring.open(Aad::new(column, &id), &sealed);
        assert!(opened.is_ok(), "{column:?} {id} is not under the new key");
        // Values nobody rewrote meanwhile keep their plaintext.
        if let Some((_, _, was)) = before.iter().find(|(c, i, _)| *c == column && *i == id) {
            if let Ok(plain) = old_ring.open(Aad::new(column, &id), was) {
                let refreshed = column.table == "connections";
                assert!(
                    refreshed || opened.unwrap() == plain,
                    "{column:?} {id} changed"
                );
            }
        }
    }
}

//! Two `tokenbroker serve` processes sharing one database: still exactly
//! one refresh. Their logs, at debug level, hold no secret.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

use tokenbroker::crypto::{Aad, Keyring, SealedColumn};
use tokenbroker::sandbox::{self, ClientApp, S2sApp};
use tokenbroker::store;

use crate::helpers::{browser, fresh_database, location, CLIENT_ID, CLIENT_SECRET};
use crate::process::{free_port, run, Server};

#[tokio::test]
async fn two_replicas_refresh_once_and_never_log_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _guard) = fresh_database().await;
    let master = Keyring::generate_key_b64();

    let sandbox = sandbox::Sandbox::new(3_000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let zoom = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sandbox::launch_with_tcp_listener(
        listener,
        sandbox.clone(),
        std::future::pending(),
    ));
    let (port_a, port_b) = (free_port(), free_port());
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    sandbox.register_client(ClientApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![
            format!("{base_a}/oauth/callback"),
            format!("{base_b}/oauth/callback"),
        ],
    });
    sandbox.register_s2s_app(S2sApp {
        account_id: "acct-9".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-very-secret".into(),
    });

    let api_url = format!("{zoom}/v2");
    let common = |public: &str| -> Vec<(String, String)> {
        [
            ("DATABASE_URL", db.as_str()),
            ("TOKENBROKER_MASTER_KEY", master.as_str()),
            ("TOKENBROKER_PUBLIC_URL", public),
            ("ZOOM_OAUTH_URL", zoom.as_str()),
            ("ZOOM_API_URL", api_url.as_str()),
            ("ZOOM_CLIENT_ID", CLIENT_ID),
            ("ZOOM_CLIENT_SECRET", CLIENT_SECRET),
            ("TOKENBROKER_REFRESH_AHEAD_SECS", "3500"),
            ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
            ("TOKENBROKER_JWT_CUTOFF", "2099-09-01T00:00:00Z"),
            (
                "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF",
                "2099-06-01T00:00:00Z",
            ),
            ("RUST_LOG", "debug"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let (vars_a, vars_b) = (common(&base_a), common(&base_b));
    let as_refs = |v: &Vec<(String, String)>| {
        v.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let (va, vb) = (as_refs(&vars_a), as_refs(&vars_b));
    let va: Vec<(&str, &str)> = va.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let vb: Vec<(&str, &str)> = vb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    assert!(run(dir.path(), &["org", "create", "acme"], &va)
        .status
        .success());
    let key_out = run(dir.path(), &["api-key", "create", "--org", "acme"], &va);
    let api_key = String::from_utf8(key_out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let mut a = Server::start(dir.path(), "a", port_a, &va).await;
    let mut b = Server::start(dir.path(), "b", port_b, &vb).await;
    let api = reqwest::Client::new();

    // Authorize through replica A. The first token lives 3000 s: inside the 3500 s window.
    let session: Value = api
        .post(format!("{base_a}/api/v1/connect-sessions"))
        .bearer_auth(&api_key)
        .json(
            &serde_json::json!({ "org": "acme", "email": "ann@acme.example", "app_type": "user" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let connect_url = session["url"].as_str().unwrap().to_string();
    let browser = browser();
    let authorize = location(&crate::helpers::submit_link_page(&browser, &connect_url).await);
    let mut form: Vec<(String, String)> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let state = form.iter().find(|(k, _)| k == "state").unwrap().1.clone();
    form.extend([
        ("email".into(), "ann@acme.example".into()),
        ("role".into(), "Member".into()),
        ("decision".into(), "allow".into()),
    ]);
    let callback = location(
        &browser
            .post(format!("{zoom}/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    );
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(
        browser.get(&callback).send().await.unwrap().status(),
        StatusCode::OK
    );
    // The first pair and the PKCE verifier, before the storm replaces the pair.
    let (first_access, first_refresh, verifier) = {
        let keyring = Keyring::parse(&master).unwrap();
        let store = store::connect(&db).await.unwrap();
        let org = store.org_by_slug("acme").await.unwrap().unwrap();
        let conn = store.list_connections(&org.id).await.unwrap().remove(0);
        let open = |column, row: &str, sealed: &str| {
            keyring.open_string(Aad::new(column, row), sealed).unwrap()
        };
        let column = SealedColumn::PKCE_VERIFIER;
        let pending = store.sealed_cells(column, "", 10).await.unwrap().remove(0);
        (
            open(
                SealedColumn::CONNECTION_ACCESS_TOKEN,
                &conn.id,
                conn.access_token.as_deref().unwrap(),
            ),
            open(
                SealedColumn::CONNECTION_REFRESH_TOKEN,
                &conn.id,
                conn.refresh_token.as_deref().unwrap(),
            ),
            open(column, &pending.id, &pending.sealed),
        )
    };

    // The storm: 1,000 callers across both replicas, Zoom slow to answer.
    sandbox.set_access_ttl(3_600);
    sandbox.add_fault(sandbox::Fault {
        endpoint: "token".into(),
        status: None,
        delay_ms: 300,
        count: 1,
        error: None,
        reason: None,
        drop_connection: false,
    });
    let calls = (0..1_000).map(|i| {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        api.get(format!(
            "{base}/api/v1/orgs/acme/users/ann@acme.example/token"
        ))
        .bearer_auth(&api_key)
        .send()
    });
    let mut tokens = HashSet::new();
    for response in join_all(calls).await {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        tokens.insert(body["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(
        sandbox.counters().refresh_token,
        1,
        "one refresh across two processes"
    );
    assert_eq!(tokens.len(), 1);

    // Credentials through replica B, so both logs see secrets pass by. The
    // JWT key first: a user without a connection then gets a minted JWT.
    let jwt = api
        .put(format!("{base_b}/api/v1/orgs/acme/jwt-credentials"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({ "api_key": "legacy-key", "api_secret": "jwt-very-secret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(jwt.status(), StatusCode::NO_CONTENT);
    let minted: Value = api
        .get(format!(
            "{base_b}/api/v1/orgs/acme/users/bob@acme.example/token"
        ))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(minted["auth_type"], "jwt", "{minted}");
    let minted_jwt = minted["access_token"].as_str().unwrap().to_string();
    let s2s = api
        .put(format!("{base_b}/api/v1/orgs/acme/s2s-credentials"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({ "email": "ops@acme.example", "account_id": "acct-9", "client_id": "s2s-id", "client_secret": "s2s-very-secret" }))
        .send().await.unwrap();
    assert_eq!(s2s.status(), StatusCode::NO_CONTENT);
    let own_app = api
        .put(format!("{base_b}/api/v1/orgs/acme/oauth-app"))
        .bearer_auth(&api_key)
        .json(
            &serde_json::json!({ "client_id": "own-id", "client_secret": "own-app-very-secret",
            "app_type": "account", "webhook_secret_token": "own-app-webhook-very-secret" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(own_app.status(), StatusCode::NO_CONTENT);
    // A Meeting SDK app, and a signature made with its secret.
    let sdk = api
        .put(format!("{base_b}/api/v1/orgs/acme/sdk-credentials"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({ "sdk_key": "sdk-key-1", "sdk_secret": "sdk-very-secret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sdk.status(), StatusCode::NO_CONTENT);
    let signed: Value = api
        .post(format!("{base_b}/api/v1/orgs/acme/sdk-signature"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({ "meeting_number": 123456789, "role": 0 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sdk_signature = signed["signature"].as_str().unwrap().to_string();

    // Error paths too: a wrong key secret, and a sign-in link used in a browser.
    let wrong_secret = "WrongSecretThatMustNeverBeLoggedXXXXXXXXXXXXX";
    let key_id = api_key.split('_').nth(1).unwrap();
    let refused = api
        .get(format!("{base_b}/api/v1/orgs/acme/connections"))
        .bearer_auth(format!("tb_{key_id}_{wrong_secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let link: Value = api
        .post(format!("{base_b}/api/v1/orgs/acme/admin-links"))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({ "email": "admin@acme.example" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link_url = link["url"].as_str().unwrap().to_string();
    let signed_in = crate::helpers::submit_link_page(&crate::helpers::browser(), &link_url).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let link_token = link_url.rsplit('/').next().unwrap().to_string();

    // Collect every secret that crossed the processes.
    let keyring = Keyring::parse(&master).unwrap();
    let store = store::connect(&db).await.unwrap();
    let org = store.org_by_slug("acme").await.unwrap().unwrap();
    let conn = store.list_connections(&org.id).await.unwrap().remove(0);
    let refresh = keyring
        .open_string(
            Aad::new(SealedColumn::CONNECTION_REFRESH_TOKEN, &conn.id),
            conn.refresh_token.as_deref().unwrap(),
        )
        .unwrap();
    let access = keyring
        .open_string(
            Aad::new(SealedColumn::CONNECTION_ACCESS_TOKEN, &conn.id),
            conn.access_token.as_deref().unwrap(),
        )
        .unwrap();
    let connect_token = connect_url.rsplit('/').next().unwrap().to_string();
    // `tb_<hex id>_<secret>`: the secret is URL-safe base64 and may itself
    // contain `_`, so split off the first two parts, not the last one.
    let api_secret = api_key.splitn(3, '_').nth(2).unwrap().to_string();
    assert!(api_secret.len() >= 40, "{api_secret}");
    let s2s_row = store.s2s(&org.id).await.unwrap().unwrap();
    let s2s_access = keyring
        .open_string(
            Aad::new(SealedColumn::S2S_ACCESS_TOKEN, &s2s_row.id),
            s2s_row.access_token.as_deref().unwrap(),
        )
        .unwrap();
    let secrets = [
        access,
        refresh,
        first_access,
        first_refresh,
        verifier,
        s2s_access,
        "own-app-very-secret".to_string(),
        "own-app-webhook-very-secret".to_string(),
        link_token,
        wrong_secret.to_string(),
        minted_jwt,
        code,
        state,
        connect_token,
        api_secret,
        master.clone(),
        CLIENT_SECRET.to_string(),
        "s2s-very-secret".into(),
        "jwt-very-secret".into(),
        "sdk-very-secret".into(),
        sdk_signature,
    ];

    // SIGTERM: both drain and exit cleanly.
    assert!(a.terminate().success());
    assert!(b.terminate().success());
    let logs = format!("{}\n{}", a.output(), b.output());
    // Both processes logged at debug level ("request finished" is a debug
    // line), so every line that could carry a secret was written.
    for (name, log) in [("a", a.output()), ("b", b.output())] {
        assert!(
            log.contains("request finished"),
            "replica {name} wrote no debug lines: {log}"
        );
    }
    assert!(
        logs.contains("token refreshed"),
        "the refresh was logged: {logs}"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..6.min(secret.len())]
        );
    }
}

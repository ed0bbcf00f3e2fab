//! Two real `tokenbroker serve` processes on one PostgreSQL: a change on
//! one stops the other serving within 200 ms (LISTEN/NOTIFY), while its
//! token cache otherwise holds.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use tokenbroker::crypto::Keyring;
use tokenbroker::sandbox::{self, ClientApp, S2sApp};

use crate::helpers::{
    browser, decide_on_zoom, fresh_database, location, submit_link_page, CLIENT_ID, CLIENT_SECRET,
};
use crate::process::{free_port, run, Server};

#[tokio::test]
async fn a_change_on_one_serve_process_reaches_the_other_within_200_ms() {
    let (db, _guard) = fresh_database().await;
    if !db.starts_with("postgres") {
        return; // SQLite: one process; in-process invalidation.
    }
    let dir = tempfile::tempdir().unwrap();
    let master = Keyring::generate_key_b64();
    let sandbox = sandbox::Sandbox::new(3_600);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let zoom = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sandbox::launch_with_tcp_listener(
        listener,
        sandbox.clone(),
        std::future::pending(),
    ));
    sandbox.register_s2s_app(S2sApp {
        account_id: "acct-1".into(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
    let (port_a, port_b) = (free_port(), free_port());
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let api_url = format!("{zoom}/v2");
    let vars = |public: &str| -> Vec<(String, String)> {
        [
            ("DATABASE_URL", db.as_str()),
            ("TOKENBROKER_MASTER_KEY", master.as_str()),
            ("TOKENBROKER_PUBLIC_URL", public),
            ("ZOOM_OAUTH_URL", zoom.as_str()),
            ("ZOOM_API_URL", api_url.as_str()),
            ("ZOOM_CLIENT_ID", CLIENT_ID),
            ("ZOOM_CLIENT_SECRET", CLIENT_SECRET),
            ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let (va, vb) = (vars(&base_a), vars(&base_b));
    let refs = |v: &Vec<(String, String)>| -> Vec<(String, String)> { v.clone() };
    let (va, vb) = (refs(&va), refs(&vb));
    let va: Vec<(&str, &str)> = va.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let vb: Vec<(&str, &str)> = vb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(run(dir.path(), &["org", "create", "acme"], &va)
        .status
        .success());
    let out = run(dir.path(), &["api-key", "create", "--org", "acme"], &va);
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let _a = Server::start(dir.path(), "a", port_a, &va).await;
    let b = Server::start(dir.path(), "b", port_b, &vb).await;
    let api = reqwest::Client::new();

    let put = api
        .put(format!("{base_a}/api/v1/orgs/acme/s2s-credentials"))
        .bearer_auth(&key)
        .json(&json!({"email": "ops@acme.example", "account_id": "acct-1", "client_id": "s2s-id", "client_secret": "s2s-secret"}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let from_b = || {
        api.get(format!(
            "{base_b}/api/v1/orgs/acme/users/ann@acme.example/token"
        ))
        .bearer_auth(&key)
        .send()
    };
    // B's listener is up by now (it connects at start); B caches the token.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = api
            .get(format!("{base_b}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The whole line: the HELP text also reads "…_up 1 while …".
        if metrics
            .lines()
            .any(|l| l == "tokenbroker_invalidation_listener_up 1")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B's listener never connected: {}",
            b.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..3 {
        assert_eq!(from_b().await.unwrap().status(), StatusCode::OK);
    }
    let mints = sandbox.counters().account_credentials;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(from_b().await.unwrap().status(), StatusCode::OK);
    let metrics = api
        .get(format!("{base_b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tokenbroker_token_cache_lookups_total{outcome=\"hit\"} 3"),
        "held past the old 1 s TTL: {metrics}"
    );
    assert_eq!(sandbox.counters().account_credentials, mints);

    // Ann authorizes Zoom through A (the real browser flow against the
    // sandbox); B, which cached her S2S token, must hand out the OAuth one.
    sandbox.register_client(ClientApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![format!("{base_a}/oauth/callback")],
    });
    let connection_id = connect_through(&api, &base_a, &key, "ann@acme.example").await;
    let auth_type = || async {
        let answer: Value = from_b().await.unwrap().json().await.unwrap();
        answer["auth_type"].as_str().unwrap_or_default().to_string()
    };
    let connected = Instant::now();
    while auth_type().await != "oauth" {
        assert!(
            connected.elapsed() < Duration::from_millis(200),
            "B kept the S2S token"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Disconnect on A: B stops serving the OAuth token within 200 ms (it
    // falls back to the org's S2S entry).
    let disconnected = api
        .delete(format!(
            "{base_a}/api/v1/orgs/acme/connections/{connection_id}"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(disconnected.status().is_success());
    let deleted = Instant::now();
    while auth_type().await == "oauth" {
        assert!(
            deleted.elapsed() < Duration::from_millis(200),
            "B still served the disconnected OAuth token after 200 ms"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "B stopped serving the disconnected token {:?} after the DELETE",
        deleted.elapsed()
    );

    let gone = api
        .delete(format!("{base_a}/api/v1/orgs/acme/s2s-credentials"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(gone.status().is_success());
    let deleted = Instant::now();
    loop {
        let status = from_b().await.unwrap().status();
        if status != StatusCode::OK {
            assert_eq!(status, StatusCode::NOT_FOUND);
            break;
        }
        assert!(
            deleted.elapsed() < Duration::from_millis(200),
            "B still served after 200 ms"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "B stopped serving {:?} after the DELETE answered",
        deleted.elapsed()
    );
}

/// The browser flow on `base`: connect session, its page, the sandbox's
/// consent, the callback. Returns the new connection's id.
async fn connect_through(api: &reqwest::Client, base: &str, key: &str, email: &str) -> String {
    let session: Value = api
        .post(format!("{base}/api/v1/connect-sessions"))
        .bearer_auth(key)
        .json(&json!({ "org": "acme", "email": email, "app_type": "user" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let browser = browser();
    let to_zoom = submit_link_page(&browser, session["url"].as_str().unwrap()).await;
    let callback = decide_on_zoom(&browser, &location(&to_zoom), email, "Member", "allow").await;
    let done = browser.get(callback).send().await.unwrap();
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "{}",
        done.text().await.unwrap()
    );
    let list: Value = api
        .get(format!("{base}/api/v1/orgs/acme/connections"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["connections"][0]["id"].as_str().unwrap().to_string()
}

async fn listener_up(api: &reqwest::Client, base: &str, up: bool, server: &Server) {
    let want = format!("tokenbroker_invalidation_listener_up {}", u8::from(up));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(resp) = api.get(format!("{base}/metrics")).send().await {
            // The whole line: the metric's HELP text also reads "…_up 1 while …".
            if resp
                .text()
                .await
                .unwrap_or_default()
                .lines()
                .any(|l| l == want)
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never saw {want}: {}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_listener_reconnects_after_a_database_restart() {
    let mut pg = crate::pg_cluster::PgCluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, master) = (pg.url(), Keyring::generate_key_b64());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("TOKENBROKER_MASTER_KEY", master.as_str()),
        ("ZOOM_CLIENT_ID", "client"),
        ("ZOOM_CLIENT_SECRET", "secret"),
        ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
    ];
    assert!(run(dir.path(), &["org", "create", "acme"], &vars)
        .status
        .success());
    let out = run(dir.path(), &["api-key", "create", "--org", "acme"], &vars);
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let id = key.split('_').nth(1).unwrap().to_string();
    let server = Server::start(dir.path(), "b", port, &vars).await;
    let api = reqwest::Client::new();
    listener_up(&api, &base, true, &server).await;

    pg.stop();
    listener_up(&api, &base, false, &server).await;
    pg.resume().await;
    listener_up(&api, &base, true, &server).await;

    let call = || {
        api.get(format!("{base}/api/v1/orgs/acme/connections"))
            .bearer_auth(&key)
            .send()
    };
    // Cached for 60 s now that the listener is back; only a notification ends that early.
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    assert!(run(dir.path(), &["api-key", "revoke", &id], &vars)
        .status
        .success());
    let revoked = Instant::now();
    loop {
        if call().await.unwrap().status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_millis(500),
            "the revocation was not heard"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

//! The proxy on real `tokenbroker serve` processes: a Zoom account's budget
//! shared by two replicas (PostgreSQL), a Zoom 429 held on the other
//! replica, 20 MB streamed both ways with flat memory, no token in logs.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Digest;
use tokio::net::TcpListener;

use tokenbroker::crypto::Keyring;
use tokenbroker::domain::RateCategory;
use tokenbroker::sandbox::{self, ApiLimits, S2sApp, SandboxState};

use crate::helpers::{fresh_database, TestDb};
use crate::process::{free_port, run, Server};

/// A sandbox, an org with S2S credentials for its user's account, and `count` serve processes.
struct Fleet {
    account: String,
    sandbox: SandboxState,
    bases: Vec<String>,
    servers: Vec<Server>,
    key: String,
    _dir: tempfile::TempDir,
    _db: TestDb,
}

async fn fleet(count: usize, extra: &[(&str, &str)]) -> Fleet {
    let (db, guard) = fresh_database().await;
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
    // The S2S app belongs to the account of the user whose meetings are listed.
    let account = sandbox.add_user("ops@acme.example", "Admin").account_id;
    sandbox.register_s2s_app(S2sApp {
        account_id: account.clone(),
        client_id: "s2s-id".into(),
        client_secret: "s2s-secret".into(),
    });
    let api_url = format!("{zoom}/v2");
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    let mut key = String::new();
    for n in 0..count {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut vars: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", db.as_str()),
            ("TOKENBROKER_MASTER_KEY", master.as_str()),
            ("TOKENBROKER_PUBLIC_URL", base.as_str()),
            ("ZOOM_OAUTH_URL", zoom.as_str()),
            ("ZOOM_API_URL", api_url.as_str()),
            ("TOKENBROKER_BACKGROUND_REFRESH", "0"),
            (
                "RUST_LOG",
                "debug,sqlx=warn,hyper=info,h2=info,reqwest=info",
            ),
        ];
        vars.extend_from_slice(extra);
        if n == 0 {
            assert!(run(dir.path(), &["org", "create", "acme"], &vars)
                .status
                .success());
            let out = run(dir.path(), &["api-key", "create", "--org", "acme"], &vars);
            key = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .to_string();
        }
        servers.push(Server::start(dir.path(), &format!("s{n}"), port, &vars).await);
        bases.push(base);
    }
    let put = reqwest::Client::new()
        .put(format!("{}/api/v1/orgs/acme/s2s-credentials", bases[0]))
        .bearer_auth(&key)
        .json(&json!({"email": "ops@acme.example", "account_id": account,
                      "client_id": "s2s-id", "client_secret": "s2s-secret"}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    Fleet {
        account,
        sandbox,
        bases,
        servers,
        key,
        _dir: dir,
        _db: guard,
    }
}

impl Fleet {
    fn meetings(&self, n: usize) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .get(format!(
                "{}/api/v1/orgs/acme/zoom/users/ops%40acme.example/meetings",
                self.bases[n]
            ))
            .bearer_auth(&self.key)
    }
}

fn on_postgres(db: &TestDb) -> bool {
    matches!(db, TestDb::Postgres)
}

#[tokio::test]
async fn two_replicas_together_never_send_zoom_more_than_the_accounts_rate() {
    let fleet = fleet(2, &[("TOKENBROKER_ZOOM_RATE_LIMITS", "medium=5/s")]).await;
    if !on_postgres(&fleet._db) {
        return; // SQLite is one process; its budget is the process's (tests/api/proxy.rs).
    }
    // Zoom's own limit is the same: one call too many would be a Zoom 429.
    fleet.sandbox.set_api_limits(ApiLimits {
        per_second: [(RateCategory::Medium, 5)].into(),
        ..ApiLimits::default()
    });
    let (mut ok, mut limited) = (0u32, 0u32);
    let until = Instant::now() + Duration::from_millis(3_200);
    while Instant::now() < until {
        let calls = (0..8).map(|i| fleet.meetings(i % 2).send());
        for answer in join_all(calls).await {
            match answer.unwrap().status() {
                StatusCode::OK => ok += 1,
                StatusCode::TOO_MANY_REQUESTS => limited += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    let usage = fleet.sandbox.api_usage();
    assert_eq!(usage.rate_limited, 0, "Zoom had to refuse: {usage:?}");
    assert!(
        usage.max_per_second[&format!("{}:medium", fleet.account)] <= 5,
        "{usage:?}"
    );
    assert!(
        ok >= 8,
        "the budget was used: {ok} answered, {limited} refused"
    );
    assert!(limited > 0, "the broker refused the excess itself");
}

#[tokio::test]
async fn a_zoom_429_seen_by_one_replica_holds_the_other() {
    let fleet = fleet(2, &[]).await;
    if !on_postgres(&fleet._db) {
        return; // SQLite is one process.
    }
    fleet.sandbox.set_api_limits(ApiLimits {
        daily: [(RateCategory::Medium, 1)].into(),
        ..ApiLimits::default()
    });
    assert_eq!(
        fleet.meetings(0).send().await.unwrap().status(),
        StatusCode::OK
    );
    let zoom = fleet.meetings(0).send().await.unwrap();
    assert_eq!(zoom.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(zoom.headers()["x-ratelimit-type"], "Daily-limit");
    let held = fleet.meetings(1).send().await.unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = held.json().await.unwrap();
    assert_eq!(
        body["error"], "rate_limited",
        "the other replica answered itself: {body}"
    );
    assert_eq!(
        fleet.sandbox.api_usage().rate_limited,
        1,
        "Zoom was asked once"
    );
}

/// Peak resident set size of a process, kB (`VmHWM`).
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn twenty_megabytes_stream_both_ways_with_flat_memory_and_no_token_in_the_log() {
    let fleet = fleet(1, &[]).await;
    let base = &fleet.bases[0];
    let client = reqwest::Client::new();
    // Warm up: the token, the pools, the first allocations.
    assert_eq!(
        fleet.meetings(0).send().await.unwrap().status(),
        StatusCode::OK
    );
    let pid = fleet.servers[0].child.id();
    let before = rss_kb(pid);

    const SIZE: usize = 20 * 1024 * 1024;
    let chunk = vec![7u8; 64 * 1024];
    let mut digest = sha2::Sha256::new();
    for _ in 0..SIZE / chunk.len() {
        digest.update(&chunk);
    }
    let expected = hex::encode(digest.finalize());
    let stream = futures::stream::iter(
        (0..SIZE / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let uploaded = client
        .post(format!("{base}/api/v1/orgs/acme/zoom/_sandbox/upload"))
        .bearer_auth(&fleet.key)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    let seen: Value = uploaded.json().await.unwrap();
    assert_eq!(seen["bytes"], SIZE as u64);
    assert_eq!(seen["sha256"], expected.as_str());

    let mut downloaded = client
        .get(format!(
            "{base}/api/v1/orgs/acme/zoom/_sandbox/download?bytes={SIZE}"
        ))
        .bearer_auth(&fleet.key)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(
        downloaded.headers()["content-length"],
        SIZE.to_string().as_str()
    );
    let mut total = 0;
    while let Some(part) = downloaded.chunk().await.unwrap() {
        total += part.len();
    }
    assert_eq!(total, SIZE);
    let grown = rss_kb(pid).saturating_sub(before);
    assert!(
        grown < 8 * 1024,
        "peak memory grew {grown} kB for 2 × 20 MB"
    );

    // Every proxied call ran with Zoom's token in hand; none reached the log.
    let token: Value = client
        .get(format!(
            "{base}/api/v1/orgs/acme/users/ops@acme.example/token"
        ))
        .bearer_auth(&fleet.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let log = fleet.servers[0].output();
    assert!(log.contains("zoom.proxy"), "the proxy's span is logged");
    assert!(!log.contains(access), "an access token reached the log");
    // `tb_<id>_<secret>`; the secret itself may contain `_`.
    let secret = fleet.key.splitn(3, '_').nth(2).unwrap();
    assert!(secret.len() >= 20, "{secret}");
    assert!(!log.contains(secret), "the API key reached the log");
}

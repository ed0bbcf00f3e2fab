//! Instructions per token call (issue 20), for `valgrind --tool=callgrind`:
//! the whole router (auth, org lookup, cache or database, JSON) serves
//! `CALLS` token calls in process, with no sockets, on one thread, so the
//! count is repeatable on a noisy machine. `tests/bench/callgrind.sh` runs
//! it twice per path with different call counts; the difference divided by
//! the difference in calls is the cost of one call, start-up excluded.
//!
//!   token_calls cache|db|healthz CALLS [DATABASE_URL]
//!
//! `cache`: the token cache on (every call after the first is a hit);
//! `db`: the cache off (every call reads the connection and opens its
//! sealed token); `healthz`: `/healthz` through the same router, the floor
//! every token call is measured against. SQLite in a temporary file unless a URL is given; on
//! PostgreSQL only the broker's side is counted.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tokenbroker::config::Config;
use tokenbroker::crypto::{Aad, Keyring, SealedColumn};
use tokenbroker::domain::{AppType, ConnectionStatus};
use tokenbroker::store::{self, Connection, Org};
use tokenbroker::App;
use tower::ServiceExt;

const EMAIL: &str = "bench@calls.example";

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_default();
    let calls: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: token_calls cache|db|healthz CALLS [DATABASE_URL]");
    let cache_ms = match path.as_str() {
        "cache" => "600000",
        "db" | "healthz" => "0",
        other => panic!("unknown path {other:?}: expected cache, db or healthz"),
    };
    let dir = tempfile_dir();
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{dir}/calls.db?mode=rwc"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(&url, cache_ms, calls, path == "healthz"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(format!("tb-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.display().to_string()
}

async fn run(url: &str, cache_ms: &str, calls: usize, healthz: bool) {
    let vars = [
        ("DATABASE_URL", url.to_string()),
        (
            "TOKENBROKER_MASTER_KEY",
            format!("k1:{}", Keyring::generate_key_b64()),
        ),
        ("ZOOM_CLIENT_ID", "bench-client".into()),
        ("ZOOM_CLIENT_SECRET", "bench-secret".into()),
        ("ZOOM_OAUTH_URL", "http://127.0.0.1:9".into()),
        ("ZOOM_API_URL", "http://127.0.0.1:9/v2".into()),
        ("TOKENBROKER_TOKEN_CACHE_MS", cache_ms.into()),
        ("TOKENBROKER_BACKGROUND_REFRESH", "0".into()),
    ];
    let config = Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
    .expect("bench config is valid");
    let keyring = config.keyring.clone().unwrap();
    let store = store::connect(url).await.expect("open the database");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let org = Org {
        id: uuid::Uuid::new_v4().to_string(),
        slug: format!("calls{}", now),
        name: "calls".into(),
        created_at: now,
    };
    store.insert_org(&org).await.unwrap();
    let (key_row, key) =
        tokenbroker::service::api_keys::new_api_key(Some(org.id.clone()), None, now);
    store.insert_api_key(&key_row).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let seal = |column, value: &str| keyring.seal_str(Aad::new(column, &id), value);
    let conn = Connection {
        access_token: Some(seal(SealedColumn::CONNECTION_ACCESS_TOKEN, "calls-access")),
        refresh_token: Some(seal(
            SealedColumn::CONNECTION_REFRESH_TOKEN,
            "calls-refresh",
        )),
        id: id.clone(),
        org_id: org.id.clone(),
        app_type: AppType::User,
        subject: format!("zu-{id}"),
        zoom_user_id: format!("zu-{id}"),
        zoom_account_id: "za-calls".into(),
        email: EMAIL.into(),
        role_name: None,
        status: ConnectionStatus::Active,
        status_reason: None,
        scopes: "meeting:read".into(),
        access_expires_at: Some(now + 86_400),
        version: 0,
        lease_owner: None,
        lease_until: None,
        last_refreshed_at: None,
        created_at: now,
        updated_at: now,
        authorized_at: Some(now),
        last_used_at: Some(now),
        oauth_app_id: None,
    };
    assert!(store.upsert_connection(&conn).await.unwrap());
    let app = App::new(config, keyring, store).into_state();
    let router = tokenbroker::router(app);
    let uri = match healthz {
        true => "/healthz".to_string(),
        false => format!("/api/v1/orgs/{}/users/{EMAIL}/token", org.slug),
    };
    let auth = format!("Bearer {key}");
    for _ in 0..calls {
        let mut request = Request::get(&uri);
        if !healthz {
            request = request.header(header::AUTHORIZATION, &auth);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(body.len() > 10);
    }
}

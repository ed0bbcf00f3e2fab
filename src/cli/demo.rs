//! `tokenbroker demo` and `tokenbroker sandbox`: everything on one machine.

use std::net::SocketAddr;

use crate::app::{App, AppState};
use crate::config::{Config, ConfigError};
use crate::crypto::Keyring;
use crate::domain::{Actor, Email, Label, OrgSlug, Required};
use crate::sandbox::{self, ClientApp, S2sApp, Sandbox};
use crate::service::credentials::{self, JwtKey};
use crate::service::{admin, api_keys, orgs};
use crate::store::Org;

use super::demo_own_app::{self, OWN_APP_CLIENT_ID, OWN_APP_ORG};
use super::support::{now, open_store, CliError};

pub const DEMO_KEY_FILE: &str = super::DEMO_KEY_FILE;
const DEMO_ORG: &str = "demo";
const DEMO_ADMIN: &str = "admin@demo.example";
const DEMO_PRODUCTS: &str =
    "meetings=meeting:read meeting:write;webinar=webinar:read webinar:write;recordings=recording:read";
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client-id";
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";
pub const SANDBOX_WEBHOOK_SECRET: &str = "sandbox-webhook-secret";

/// A one-time admin console sign-in link for `email` on `org`.
async fn admin_link(app: &AppState, org: &Org, email: &str) -> Result<String, CliError> {
    let email = Email::parse(email).map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(admin::issue_link(app, org, &email, &Actor::Cli).await?.url)
}

/// Reuses the demo's master key across runs, so the demo database stays readable.
fn demo_master_key() -> Result<String, CliError> {
    if let Ok(key) = std::env::var("TOKENBROKER_MASTER_KEY") {
        return Ok(key);
    }
    if let Ok(key) = std::fs::read_to_string(DEMO_KEY_FILE) {
        return Ok(key.trim().to_string());
    }
    let key = Keyring::generate_key_b64();
    std::fs::write(DEMO_KEY_FILE, &key)
        .map_err(|e| CliError::Failed(format!("cannot write {DEMO_KEY_FILE}: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(DEMO_KEY_FILE, std::fs::Permissions::from_mode(0o600));
    }
    Ok(key)
}

fn demo_config(sandbox_url: &str, master: &str) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| {
        let set = std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match name {
            "TOKENBROKER_MASTER_KEY" => Some(master.to_string()),
            "ZOOM_OAUTH_URL" => set.or_else(|| Some(sandbox_url.to_string())),
            "ZOOM_API_URL" => set.or_else(|| Some(format!("{sandbox_url}/v2"))),
            "ZOOM_CLIENT_ID" => set.or_else(|| Some(SANDBOX_CLIENT_ID.into())),
            "ZOOM_CLIENT_SECRET" => set.or_else(|| Some(SANDBOX_CLIENT_SECRET.into())),
            "ZOOM_WEBHOOK_SECRET_TOKEN" => set.or_else(|| Some(SANDBOX_WEBHOOK_SECRET.into())),
            // Products as a CRM offers them; the consent page shows each one.
            "ZOOM_SCOPES" => set.or_else(|| Some("user:read".into())),
            "ZOOM_PRODUCTS" => set.or_else(|| Some(DEMO_PRODUCTS.into())),
            "ZOOM_REQUIRED_SCOPES" => set.or_else(|| Some("user:read".into())),
            // The real cutoffs are in 2023; the demo pretends they are ahead so
            // the migration path (JWT warning, then OAuth) can be seen.
            "TOKENBROKER_JWT_CUTOFF" => set.or_else(|| Some(days_from_now(30))),
            "TOKENBROKER_JWT_NEW_CREDENTIALS_CUTOFF" => set.or_else(|| Some(days_from_now(15))),
            _ => set,
        }
    })
}

fn days_from_now(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Gives the demo org a legacy JWT key, as an org that has not migrated yet has.
async fn seed_legacy_jwt(app: &AppState, org: &Org) -> Result<(), CliError> {
    if app.store.jwt(&org.id).await?.is_some() {
        return Ok(());
    }
    let field = |name: &str, value: &str| {
        Required::parse(name, value, 512).map_err(|e| CliError::Failed(e.to_string()))
    };
    let key = JwtKey {
        email: None,
        api_key: field("api_key", "demo-legacy-jwt-key")?,
        api_secret: field("api_secret", &crate::crypto::random_token())?,
    };
    credentials::set_jwt(app, org, &Actor::Cli, key).await?;
    Ok(())
}

async fn bind(addr: SocketAddr, what: &'static str) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        CliError::Config(ConfigError::new(
            what,
            format!("cannot listen on {addr}: {e}"),
        ))
    })
}

fn sandbox_for(config: &Config) -> sandbox::SandboxState {
    let sandbox = Sandbox::new(sandbox::DEFAULT_ACCESS_TTL);
    sandbox.register_client(ClientApp {
        client_id: config
            .zoom_client_id
            .clone()
            .unwrap_or_else(|| SANDBOX_CLIENT_ID.into()),
        client_secret: config
            .zoom_client_secret
            .clone()
            .unwrap_or_else(|| SANDBOX_CLIENT_SECRET.into()),
        redirect_uris: vec![config.redirect_uri()],
    });
    sandbox.register_s2s_app(S2sApp {
        account_id: "demo-account".into(),
        client_id: "demo-s2s-client".into(),
        client_secret: "demo-s2s-secret".into(),
    });
    if let Some(secret) = &config.webhook_secret {
        sandbox.set_webhook(&config.public_path("/webhooks/zoom"), secret);
    }
    demo_own_app::register_in_sandbox(&sandbox, config);
    sandbox
}

pub async fn run(sandbox_bind: SocketAddr) -> Result<(), CliError> {
    let sandbox_url = format!("http://{sandbox_bind}");
    let config = demo_config(&sandbox_url, &demo_master_key()?)?;
    crate::telemetry::init(config.log_format);
    let keyring = config.require_keyring()?.clone();
    let sandbox_listener = bind(sandbox_bind, "--sandbox-bind").await?;
    let listener = bind(config.bind, "TOKENBROKER_BIND").await?;
    let sandbox = sandbox_for(&config);
    let store = open_store(&config).await?;
    let org = match store.org_by_slug(DEMO_ORG).await? {
        Some(org) => org,
        None => {
            let slug = OrgSlug::parse(DEMO_ORG).map_err(|e| CliError::Failed(e.to_string()))?;
            orgs::create(&store, &slug, Some("Demo CRM org"), now()).await?
        }
    };
    let (_, api_key) = api_keys::create(
        &store,
        Some(&org),
        api_keys::KeySpec::label(Label::parse("demo").expect("a plain label")),
        &Actor::Cli,
        now(),
    )
    .await?;
    let app = App::new(config, keyring, store).into_state();
    seed_legacy_jwt(&app, &org).await?;
    let link = admin_link(&app, &org, DEMO_ADMIN).await?;
    let (own_org, own_key) = demo_own_app::seed(&app).await?;
    let own_link = admin_link(&app, &own_org, "admin@demo-own-app.example").await?;
    let base = app.config.public_path("");

    println!();
    println!("tokenbroker demo is running (Ctrl-C stops it)");
    println!(
        "  broker:        {base}  ({} database)",
        app.store.backend()
    );
    println!(
        "  sandbox Zoom:  {sandbox_url}  (consent page, token endpoint, /v2/users/me, meetings)"
    );
    println!();
    println!("1. Open the admin console (one-time sign-in link, valid 10 minutes), click");
    println!("   \"Authorize from Zoom App Marketplace\" and approve on the sandbox Zoom as {DEMO_ADMIN}:");
    println!("   {link}");
    println!(
        "2. Fetch a token with the org's API key. Before you authorize it is a legacy JWT with a"
    );
    println!(
        "   warning (the demo's JWT cutoff is 30 days ahead); afterwards it is the OAuth token:"
    );
    println!("   API key: {api_key}");
    println!("   curl -s -H 'Authorization: Bearer {api_key}' {base}/api/v1/orgs/{DEMO_ORG}/users/{DEMO_ADMIN}/token");
    println!("   Once authorized, call Zoom's API through the broker, which signs each call and keeps the");
    println!("   Zoom account within its rate limits: list, then create, a meeting:");
    println!("   curl -s -H 'Authorization: Bearer {api_key}' {base}/api/v1/orgs/{DEMO_ORG}/users/{DEMO_ADMIN}/zoom/users/me/meetings");
    println!("   curl -s -H 'Authorization: Bearer {api_key}' -H 'content-type: application/json' -d '{{\"topic\":\"Demo meeting\",\"type\":2,\"duration\":30}}' {base}/api/v1/orgs/{DEMO_ORG}/users/{DEMO_ADMIN}/zoom/users/me/meetings");
    println!("3. Remove the app \"in Zoom\" and watch the signed webhook revoke the connection:");
    println!("   curl -s -X POST {sandbox_url}/_sandbox/deauthorize -H 'content-type: application/json' -d '{{\"email\":\"{DEMO_ADMIN}\"}}'");
    println!("   Server-to-Server credentials for the sandbox: account demo-account, client demo-s2s-client / demo-s2s-secret.");
    println!("4. The org {OWN_APP_ORG} brings its own Zoom OAuth app (client {OWN_APP_CLIENT_ID}, served by the");
    println!("   sandbox as a second client). Its console shows the app, its Redirect URL and webhook URL:");
    println!("   {own_link}");
    println!("   API key: {own_key}");
    println!("   curl -s -H 'Authorization: Bearer {own_key}' {base}/api/v1/orgs/{OWN_APP_ORG}/oauth-app");
    println!();
    println!(
        "More sign-in links later (run in this directory; it finds ./{DEMO_KEY_FILE} by itself):"
    );
    println!("   tokenbroker admin-link --org {DEMO_ORG} --email {DEMO_ADMIN}");
    println!();

    let (stop_sandbox, sandbox_stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox_task = tokio::spawn(sandbox::launch_with_tcp_listener(
        sandbox_listener,
        sandbox,
        async move {
            let _ = sandbox_stopped.await;
        },
    ));
    let served =
        crate::launch_with_tcp_listener(listener, app, crate::server::shutdown_signal()).await;
    let _ = stop_sandbox.send(());
    let _ = sandbox_task.await;
    served.map_err(|e| CliError::Failed(format!("server error: {e}")))
}

pub async fn run_sandbox_only(bind_addr: SocketAddr, access_ttl: i64) -> Result<(), CliError> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format);
    let listener = bind(bind_addr, "--bind").await?;
    let sandbox = sandbox_for(&config);
    sandbox.set_access_ttl(access_ttl);
    println!(
        "sandbox Zoom listening on http://{bind_addr}; redirect URI allowed: {}",
        config.redirect_uri()
    );
    sandbox::launch_with_tcp_listener(listener, sandbox, crate::server::shutdown_signal())
        .await
        .map_err(|e| CliError::Failed(format!("sandbox error: {e}")))
}

//! The operator commands: thin wrappers that parse arguments into domain
//! types, call a service, and print the result.

use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::domain::{rfc3339, Actor, Email, Label, OrgSlug, Scope};
use crate::service::{admin, api_keys, keys, orgs};

use super::support::{now, open_store, CliError};

pub async fn serve() -> Result<(), CliError> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format);
    let keyring = config.require_keyring()?.clone();
    if config.zoom_client_id.is_none() || config.zoom_client_secret.is_none() {
        tracing::warn!(
            "ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET are not set: authorization and refresh will fail"
        );
    }
    let store = open_store(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| {
            CliError::Config(ConfigError::new(
                "TOKENBROKER_BIND",
                format!("cannot listen on {}: {e}", config.bind),
            ))
        })?;
    tracing::info!(bind = %config.bind, database = store.backend(), public_url = %config.public_url, "tokenbroker serving");
    let app = App::new(config, keyring, store).into_state();
    crate::launch_with_tcp_listener(listener, app, crate::server::shutdown_signal())
        .await
        .map_err(|e| CliError::Failed(format!("server error: {e}")))
}

pub async fn migrate() -> Result<(), CliError> {
    let config = Config::from_env()?;
    crate::telemetry::init(config.log_format);
    let store = open_store(&config).await?;
    println!("migrations applied ({})", store.backend());
    Ok(())
}

pub async fn org_create(slug: &str, name: Option<&str>) -> Result<(), CliError> {
    let slug = OrgSlug::parse(slug).map_err(|e| CliError::Failed(e.to_string()))?;
    let store = open_store(&Config::from_env()?).await?;
    let org = orgs::create(&store, &slug, name, now()).await?;
    println!("created org {} ({})", org.slug, org.id);
    Ok(())
}

pub async fn org_list() -> Result<(), CliError> {
    let store = open_store(&Config::from_env()?).await?;
    for org in orgs::list(&store).await? {
        println!("{}\t{}", org.slug, org.name);
    }
    Ok(())
}

pub async fn api_key_create(
    org: Option<&str>,
    label: Option<String>,
    scopes: Option<&str>,
    expires_in_days: Option<u32>,
) -> Result<(), CliError> {
    let scopes = match scopes {
        Some(text) => {
            Scope::parse_list(text).map_err(|e| CliError::Failed(format!("--scopes: {e}")))?
        }
        None => Vec::new(),
    };
    let label = label.as_deref().map(Label::parse).transpose();
    let label = label
        .map_err(|e| CliError::Failed(format!("--label: {e}")))?
        .flatten();
    let spec = api_keys::KeySpec {
        label,
        scopes,
        expires_in_secs: expires_in_days.map(|d| i64::from(d) * 86_400),
    };
    let store = open_store(&Config::from_env()?).await?;
    let org = match org {
        Some(slug) => Some(orgs::find(&store, slug).await?),
        None => None,
    };
    let (row, key) = api_keys::create(&store, org.as_ref(), spec, &Actor::Cli, now()).await?;
    let scope = org
        .map(|o| format!("org {}", o.slug))
        .unwrap_or_else(|| "all orgs".into());
    println!("API key {} for {scope}; it is shown only once:", row.id);
    println!("{key}");
    Ok(())
}

pub async fn api_key_list(org: Option<&str>) -> Result<(), CliError> {
    let store = open_store(&Config::from_env()?).await?;
    let org = match org {
        Some(slug) => Some(orgs::find(&store, slug).await?),
        None => None,
    };
    let slugs: std::collections::HashMap<String, String> = orgs::list(&store)
        .await?
        .into_iter()
        .map(|o| (o.id, o.slug))
        .collect();
    println!("id\torg\tlabel\tscopes\tcreated\tlast_used\texpires\trevoked");
    for key in api_keys::list(&store, org.as_ref()).await? {
        let org = match &key.org_id {
            Some(id) => slugs.get(id).cloned().unwrap_or_else(|| id.clone()),
            None => "*".into(),
        };
        let when = |t: Option<i64>| t.map(rfc3339).unwrap_or_else(|| "-".into());
        println!(
            "{}\t{org}\t{}\t{}\t{}\t{}\t{}\t{}",
            key.id,
            key.label.as_deref().unwrap_or("-"),
            key.scopes.replace(' ', ","),
            rfc3339(key.created_at),
            when(key.last_used_at),
            when(key.expires_at),
            when(key.revoked_at),
        );
    }
    Ok(())
}

pub async fn api_key_revoke(id: &str) -> Result<(), CliError> {
    let store = open_store(&Config::from_env()?).await?;
    let key = api_keys::revoke(&store, None, id, &Actor::Cli, now()).await?;
    println!("revoked API key {}", key.id);
    Ok(())
}

pub async fn admin_link(org: &str, email: &str) -> Result<(), CliError> {
    let config = config_or_demo()?;
    let keyring = config.require_keyring()?.clone();
    let email = Email::parse(email).map_err(|e| CliError::Failed(e.to_string()))?;
    let store = open_store(&config).await?;
    let org = orgs::find(&store, org).await?;
    let app = App::new(config, keyring, store).into_state();
    let link = admin::issue_link(&app, &org, &email, &Actor::Cli).await?;
    println!("{}", link.url);
    Ok(())
}

pub async fn rotate_keys() -> Result<(), CliError> {
    let config = Config::from_env()?;
    let keyring = config.require_keyring()?.clone();
    let store = open_store(&config).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}] {pos} values checked")
            .expect("static progress template is valid"),
    );
    let summary = keys::rotate(&store, &keyring, |column, _| {
        bar.set_message(column.to_string());
        bar.inc(1);
    })
    .await?;
    bar.finish_and_clear();
    println!(
        "rotate-keys: {} re-encrypted under {:?}, {} already current, {} changed concurrently, {} failed",
        summary.rotated,
        keyring.write_kid(),
        summary.already_current,
        summary.skipped_concurrent,
        summary.failed
    );
    if summary.failed > 0 {
        return Err(CliError::Failed(format!(
            "{} values could not be opened with any configured key; they were left untouched",
            summary.failed
        )));
    }
    Ok(())
}

/// The environment's configuration; but in the demo's directory, with
/// neither `TOKENBROKER_MASTER_KEY` nor `DATABASE_URL` set, the demo's key
/// file and default database, as `tokenbroker demo` uses them (said on stderr).
fn config_or_demo() -> Result<Config, CliError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let demo_key = match (var("TOKENBROKER_MASTER_KEY"), var("DATABASE_URL")) {
        (None, None) => std::fs::read_to_string(super::DEMO_KEY_FILE).ok(),
        _ => None,
    };
    let Some(key) = demo_key else {
        return Ok(Config::from_env()?);
    };
    eprintln!(
        "TOKENBROKER_MASTER_KEY is not set: using the demo's key from ./{} and the demo's database",
        super::DEMO_KEY_FILE
    );
    let key = key.trim().to_string();
    Ok(Config::from_lookup(|name| match name {
        "TOKENBROKER_MASTER_KEY" => Some(key.clone()),
        _ => var(name),
    })?)
}

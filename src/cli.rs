//! The command line. Configuration problems print one line naming the
//! variable and exit 2; other failures exit 1.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::api::new_api_key;
use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::crypto::Keyring;
use crate::domain::OrgSlug;
use crate::store::{self, DynStore, Org};

#[derive(Parser)]
#[command(
    name = "tokenbroker",
    version,
    about = "Zoom OAuth token broker for CRMs leaving Zoom's JWT app type"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Broker and sandbox Zoom on one machine, zero configuration.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8090")]
        sandbox_bind: SocketAddr,
    },
    /// The production server.
    Serve,
    /// Apply pending migrations, then exit.
    Migrate,
    /// Run only the sandbox Zoom.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: SocketAddr,
        /// Lifetime of issued access tokens, in seconds.
        #[arg(long, default_value_t = crate::sandbox::DEFAULT_ACCESS_TTL)]
        access_token_ttl: i64,
    },
    /// Manage orgs (tenants).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Print a one-time admin console sign-in URL.
    AdminLink {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
    },
    /// Print a new base64-encoded 32-byte master key.
    GenKey,
    /// Re-encrypt every stored secret under the first master key.
    RotateKeys,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an org.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List orgs.
    List,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create an API key; the key is printed once, as the last line.
    Create {
        #[arg(
            long,
            required_unless_present = "all_orgs",
            conflicts_with = "all_orgs"
        )]
        org: Option<String>,
        #[arg(long)]
        all_orgs: bool,
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Failed(String),
}

impl From<store::StoreError> for CliError {
    fn from(err: store::StoreError) -> Self {
        CliError::Failed(err.to_string())
    }
}

pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Config(err)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database, mapping "cannot connect" to a configuration error.
pub async fn open_store(config: &Config) -> Result<DynStore, CliError> {
    store::connect_with_deadline(&config.database_url, config.timing.db_query)
        .await
        .map_err(|err| match err {
            store::StoreError::Database(e) => CliError::Config(ConfigError::new(
                "DATABASE_URL",
                format!("cannot open the database: {e}"),
            )),
            other => CliError::Failed(other.to_string()),
        })
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::GenKey => {
            println!("{}", Keyring::generate_key_b64());
            Ok(())
        }
        Command::Demo { sandbox_bind } => crate::demo::run(sandbox_bind).await,
        Command::Sandbox {
            bind,
            access_token_ttl,
        } => crate::demo::run_sandbox_only(bind, access_token_ttl).await,
        Command::Serve => serve().await,
        Command::Migrate => {
            let config = Config::from_env()?;
            crate::telemetry::init(config.log_format);
            let store = open_store(&config).await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::Org {
            command: OrgCommand::Create { slug, name },
        } => {
            let config = Config::from_env()?;
            let store = open_store(&config).await?;
            let org = create_org(&store, &slug, name.as_deref()).await?;
            println!("created org {} ({})", org.slug, org.id);
            Ok(())
        }
        Command::Org {
            command: OrgCommand::List,
        } => {
            let config = Config::from_env()?;
            let store = open_store(&config).await?;
            for org in store.list_orgs().await? {
                println!("{}\t{}", org.slug, org.name);
            }
            Ok(())
        }
        Command::ApiKey {
            command:
                ApiKeyCommand::Create {
                    org,
                    all_orgs: _,
                    label,
                },
        } => {
            let config = Config::from_env()?;
            let store = open_store(&config).await?;
            let org_id = match &org {
                Some(slug) => Some(find_org(&store, slug).await?.id),
                None => None,
            };
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let (row, key) = new_api_key(org_id.clone(), label, now);
            store.insert_api_key(&row).await?;
            let scope = org
                .as_deref()
                .map(|s| format!("org {s}"))
                .unwrap_or_else(|| "all orgs".into());
            store
                .append_audit(&crate::store::NewAuditEvent {
                    org_id,
                    actor: "cli".into(),
                    action: "api_key.created".into(),
                    outcome: "success".into(),
                    detail: format!("key {} for {scope}", row.id),
                    created_at: now,
                })
                .await?;
            println!("API key {} for {scope}; it is shown only once:", row.id);
            println!("{key}");
            Ok(())
        }
        Command::AdminLink { org, email } => {
            let config = Config::from_env()?;
            let keyring = config.require_keyring()?.clone();
            let store = open_store(&config).await?;
            let org = find_org(&store, &org).await?;
            let app = App::new(config, keyring, store).into_state();
            let url = crate::demo::admin_link(&app, &org, &email).await?;
            println!("{url}");
            Ok(())
        }
        Command::RotateKeys => {
            let config = Config::from_env()?;
            let keyring = config.require_keyring()?.clone();
            let store = open_store(&config).await?;
            crate::rotate::rotate_all(&store, &keyring).await
        }
    }
}

async fn serve() -> Result<(), CliError> {
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

pub async fn create_org(store: &DynStore, slug: &str, name: Option<&str>) -> Result<Org, CliError> {
    let slug = OrgSlug::parse(slug).map_err(|e| CliError::Failed(e.to_string()))?;
    let org = Org {
        id: uuid::Uuid::new_v4().to_string(),
        slug: slug.to_string(),
        name: name.unwrap_or(slug.as_str()).to_string(),
        created_at: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    store.insert_org(&org).await.map_err(|e| match e {
        store::StoreError::Conflict(_) => CliError::Failed(format!("org {slug:?} already exists")),
        other => other.into(),
    })?;
    Ok(org)
}

pub async fn find_org(store: &DynStore, slug: &str) -> Result<Org, CliError> {
    store.org_by_slug(slug).await?.ok_or_else(|| {
        CliError::Failed(format!(
            "org {slug:?} does not exist; create it with `tokenbroker org create {slug}`"
        ))
    })
}

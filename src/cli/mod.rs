//! The command line. Configuration problems print one line naming the
//! variable and exit 2; other failures exit 1.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::crypto::Keyring;

mod commands;
#[cfg(feature = "sandbox")]
mod demo;
#[cfg(feature = "sandbox")]
mod demo_own_app;
mod support;

/// The master key file `tokenbroker demo` writes in its directory.
pub const DEMO_KEY_FILE: &str = "tokenbroker-demo.key";

pub use support::CliError;

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
    #[cfg_attr(not(feature = "sandbox"), command(about = NO_SANDBOX_HELP))]
    Demo {
        #[arg(long, default_value = "127.0.0.1:8090")]
        sandbox_bind: SocketAddr,
    },
    /// The production server.
    Serve,
    /// Apply pending migrations, then exit.
    Migrate,
    /// Run only the sandbox Zoom.
    #[cfg_attr(not(feature = "sandbox"), command(about = NO_SANDBOX_HELP))]
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: SocketAddr,
        /// Lifetime of issued access tokens, in seconds (Zoom's is 3600).
        #[arg(long, default_value_t = 3600)]
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
        /// Comma-separated: tokens:read, connect, credentials, admin. Default: all.
        #[arg(long)]
        scopes: Option<String>,
        /// The key stops working this many days from now. Default: never.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List API keys (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke an API key by its id; it answers 401 from then on.
    Revoke { id: String },
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

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::GenKey => {
            println!("{}", Keyring::generate_key_b64());
            Ok(())
        }
        #[cfg(feature = "sandbox")]
        Command::Demo { sandbox_bind } => demo::run(sandbox_bind).await,
        #[cfg(feature = "sandbox")]
        Command::Sandbox {
            bind,
            access_token_ttl,
        } => demo::run_sandbox_only(bind, access_token_ttl).await,
        #[cfg(not(feature = "sandbox"))]
        Command::Demo { .. } | Command::Sandbox { .. } => Err(CliError::Failed(NO_SANDBOX.into())),
        Command::Serve => commands::serve().await,
        Command::Migrate => commands::migrate().await,
        Command::Org {
            command: OrgCommand::Create { slug, name },
        } => commands::org_create(&slug, name.as_deref()).await,
        Command::Org {
            command: OrgCommand::List,
        } => commands::org_list().await,
        Command::ApiKey { command } => match command {
            ApiKeyCommand::Create {
                org,
                label,
                scopes,
                expires_in_days,
                ..
            } => {
                commands::api_key_create(org.as_deref(), label, scopes.as_deref(), expires_in_days)
                    .await
            }
            ApiKeyCommand::List { org } => commands::api_key_list(org.as_deref()).await,
            ApiKeyCommand::Revoke { id } => commands::api_key_revoke(&id).await,
        },
        Command::AdminLink { org, email } => commands::admin_link(&org, &email).await,
        Command::RotateKeys => commands::rotate_keys().await,
    }
}

/// `demo` and `sandbox` stay in `--help` in every build, so that a build
/// without the sandbox can say so instead of "unrecognized subcommand".
#[cfg(not(feature = "sandbox"))]
const NO_SANDBOX_HELP: &str = "Not in this build: it has no sandbox Zoom";
#[cfg(not(feature = "sandbox"))]
const NO_SANDBOX: &str = "this build has no sandbox Zoom (built without the `sandbox` cargo \
    feature); `demo` and `sandbox` need a default build, e.g. `cargo build --release`";

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use saveloops::config::Settings;
use saveloops::startup::Application;
use saveloops::{database, telemetry, tenants};

/// Saveloops: stop SaaS customers from churning.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and its first API key (printed once, as JSON).
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create another API key for an organization (printed once, as JSON).
    Create {
        #[arg(long)]
        org: i64,
    },
    /// Revoke the key whose prefix (`slk_…`, the part before the second underscore) is given.
    Revoke { prefix: String },
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings.clone()).await?;
            tracing::info!(
                host = %settings.server.host,
                port = app.port(),
                database = %database::redact(&settings.database.url),
                "saveloops is serving"
            );
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            print_json(&serde_json::json!({"migrated": true}))?;
        }
        Command::Org {
            command: OrgCommand::Create { name },
        } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            print_json(&tenants::create_organization(&db, &name).await?)?;
        }
        Command::Key { command } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            match command {
                KeyCommand::Create { org } => print_json(&tenants::create_key(&db, org).await?)?,
                KeyCommand::Revoke { prefix } => {
                    if !tenants::revoke_key(&db, &prefix).await? {
                        anyhow::bail!("no active key has the prefix {prefix}");
                    }
                    print_json(&serde_json::json!({"revoked": prefix}))?;
                }
            }
        }
    }
    Ok(())
}

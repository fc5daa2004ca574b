use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use saveloops::config::Settings;
use saveloops::jobs::{self, Workers};
use saveloops::startup::Application;
use saveloops::store::secrets::SecretBox;
use saveloops::store::tickets::TicketCourier;
use saveloops::store::{analytics, database, sessions, stripe_webhooks, tenants};
use saveloops::{sentiment, telemetry};
use tokio::sync::watch;

mod member_cli;
use member_cli::{member_command, MemberCommand};

/// glibc's malloc spent a seventh of the service's CPU under load (many small, short-lived
/// allocations across threads); mimalloc's per-thread free lists cost a fraction of that.
/// Built with `no_thp`: mimalloc otherwise asks for transparent huge pages on the arenas it
/// commits, and each touched 2 MiB page counts whole (peak RSS under load 95 MB, with it 75 MB,
/// same throughput).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

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
    /// Run the HTTP service, and the queue workers unless --no-workers.
    Serve {
        /// Serve HTTP only; run `saveloops work` elsewhere.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the queue workers only (they scale apart from the HTTP service).
    Work,
    /// The cancellation-reason model.
    Sentiment {
        #[command(subcommand)]
        command: SentimentCommand,
    },
    /// Inspect and steer the retry queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage the people who sign in to the dashboard (/app).
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage the secrets an organization signs end-user session tokens with.
    SigningSecret {
        #[command(subcommand)]
        command: SigningSecretCommand,
    },
    /// Print the widget's Subresource Integrity hash (for `<script integrity>`) and its
    /// gzipped size.
    EmbedSri,
    /// Stripe's webhooks: the organization's endpoint and its signing secrets.
    StripeWebhook {
        #[command(subcommand)]
        command: StripeWebhookCommand,
    },
    /// The analytics rollups.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Rebuild the rollups of an organization over UTC days `--from` to `--to` (both
    /// inclusive; all time without them) from the stored rows. Run it while the
    /// organization's writes are quiet.
    Rebuild {
        #[arg(long)]
        org: i64,
        /// First day, YYYY-MM-DD.
        #[arg(long, requires = "to")]
        from: Option<chrono::NaiveDate>,
        /// Last day, YYYY-MM-DD.
        #[arg(long, requires = "from")]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum StripeWebhookCommand {
    /// The organization's endpoint (created on first use) and its URL, for Stripe's dashboard.
    Endpoint {
        #[arg(long)]
        org: i64,
        /// Where Stripe reaches this service (default: http://server.host:server.port).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Store the endpoint's signing secret (whsec_…), read from standard input; at most two
    /// active, for a rotation. It is encrypted at rest and never shown again.
    AddSecret {
        #[arg(long)]
        org: i64,
    },
    /// The organization's signing secrets, without the secrets.
    ListSecrets {
        #[arg(long)]
        org: i64,
    },
    /// Revoke the secret with this id (`whk_…`).
    RevokeSecret {
        #[arg(long)]
        org: i64,
        id: String,
    },
}

#[derive(Subcommand)]
enum SigningSecretCommand {
    /// Create one (at most two active, for a rotation); the secret is printed once, as JSON.
    Create {
        #[arg(long)]
        org: i64,
    },
    /// The organization's secrets, without the secrets.
    List {
        #[arg(long)]
        org: i64,
    },
    /// Revoke the secret with this `kid`: tokens it signed are refused from then on.
    Revoke {
        #[arg(long)]
        org: i64,
        kid: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization and its first API key (printed once, as JSON).
    Create {
        #[arg(long)]
        name: String,
    },
    /// Store the organization's Stripe secret key, read from standard input (encrypted at rest).
    SetStripeKey {
        #[arg(long)]
        org: i64,
    },
    /// Send the organization's support tickets to a webhook; prints the signing secret once.
    SetTicketWebhook {
        #[arg(long)]
        org: i64,
        /// http(s) URL that receives a POST per ticket.
        #[arg(long)]
        url: String,
        /// json (signed JSON) or slack (Slack incoming-webhook format).
        #[arg(long, default_value = "json")]
        format: String,
    },
}

#[derive(Subcommand)]
enum SentimentCommand {
    /// Accuracy, macro-F1, per-class figures, confusion matrix and calibration on the
    /// held-out split of each language (English, German, French, Spanish), then on all.
    Eval,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Ready, scheduled, in flight and dead jobs, oldest due age and retries so far.
    Stats,
    /// Dead jobs with their last errors.
    Dead {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Bring a dead job back (due now, attempts reset).
    Retry { id: String },
    /// Delete a dead job for good; its application is marked failed.
    Delete { id: String },
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
    if let Command::EmbedSri = cli.command {
        println!("{}", saveloops::http::embed::integrity());
        eprintln!(
            "{} bytes, {} gzipped",
            saveloops::http::embed::SCRIPT.len(),
            saveloops::http::embed::gzipped().len()
        );
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(&settings.log);
    match cli.command {
        Command::Serve { no_workers } => {
            let app = Application::build(settings.clone()).await?;
            tracing::info!(
                host = %settings.server.host,
                port = app.port(),
                database = %database::redact(&settings.database.url),
                queue = ?settings.queue.backend,
                workers = !no_workers,
                "saveloops is serving"
            );
            let (stop, stopped) = watch::channel(false);
            let workers = (!no_workers).then(|| {
                actix_web::rt::spawn(
                    Workers::new(&settings, app.applier.clone(), app.courier.clone()).run(stopped),
                )
            });
            // Returns after SIGTERM/SIGINT once in-flight requests are answered.
            app.run_until_stopped().await?;
            let _ = stop.send(true);
            if let Some(workers) = workers {
                let _ = workers.await;
            }
        }
        Command::Work => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            let turns = database::WriteTurns::for_database(&settings.database)?;
            database::start_checkpointer(&settings.database, turns).await?;
            let queue = jobs::connect_queue(&settings, &db).await?;
            let applier = Arc::new(jobs::offer_applier(&settings, db.clone(), queue.clone())?);
            let courier = Arc::new(TicketCourier::new(db, applier.secrets.clone(), queue)?);
            let (stop, stopped) = watch::channel(false);
            actix_web::rt::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing or releasing running jobs");
                let _ = stop.send(true);
            });
            tracing::info!(queue = ?settings.queue.backend, concurrency = settings.queue.concurrency, "saveloops workers started");
            Workers::new(&settings, applier, courier).run(stopped).await;
        }
        Command::Queue { command } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            let queue = jobs::connect_queue(&settings, &db).await?;
            match command {
                QueueCommand::Stats => print_json(&queue.stats().await?)?,
                QueueCommand::Dead { limit, offset } => {
                    let dead =
                        jobs::dead_jobs_with_owners(&*queue, &db, offset, limit.min(1000)).await?;
                    print_json(&serde_json::json!({ "dead": dead }))?
                }
                QueueCommand::Retry { id } => {
                    if !jobs::retry_dead_job(&*queue, &db, &id).await? {
                        anyhow::bail!("no dead job has the id {id}");
                    }
                    print_json(&serde_json::json!({ "revived": id }))?
                }
                QueueCommand::Delete { id } => {
                    let note = "Discarded by an operator (saveloops queue delete).";
                    if !jobs::discard_dead_job(&*queue, &db, &id, note).await? {
                        anyhow::bail!("no dead job has the id {id}");
                    }
                    print_json(&serde_json::json!({ "deleted": id }))?
                }
            }
        }
        Command::Analytics {
            command: AnalyticsCommand::Rebuild { org, from, to },
        } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            let days = match (from, to) {
                (Some(from), Some(to)) if from <= to => {
                    Some((from, to + chrono::Duration::days(1)))
                }
                (Some(_), Some(_)) => anyhow::bail!("--from must not be after --to"),
                _ => None,
            };
            let started = std::time::Instant::now();
            analytics::rebuild(&db, Some(org), days).await?;
            print_json(&serde_json::json!({
                "organization_id": org,
                "from": from,
                "to": to,
                "rebuilt": true,
                "seconds": started.elapsed().as_secs_f64(),
            }))?;
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
        Command::Member { command } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            member_command(&db, &settings, command).await?;
        }
        Command::Sentiment {
            command: SentimentCommand::Eval,
        } => {
            let examples = sentiment::embedded_corpus().map_err(anyhow::Error::msg)?;
            let (train, held_out) = sentiment::split(&examples);
            let started = std::time::Instant::now();
            let model = sentiment::Classifier::train(&train);
            println!(
                "Trained on {} reasons in {:.2?}; evaluated on {} held-out reasons never used for training.\n",
                train.len(),
                started.elapsed(),
                held_out.len()
            );
            let by_language = sentiment::evaluate_by_language(&model, &held_out);
            println!(
                "{:<10} {:>8} {:>9} {:>9} {:>7} {:>9} {:>11}",
                "language", "held-out", "accuracy", "macro-F1", "ECE", "detected", "temperature"
            );
            for (language, evaluation) in &by_language {
                println!(
                    "{:<10} {:>8} {:>9.3} {:>9.3} {:>7.3} {:>9.3} {:>11.3}",
                    language.code(),
                    evaluation.examples,
                    evaluation.accuracy,
                    evaluation.macro_f1,
                    evaluation.ece,
                    evaluation.language_accuracy,
                    model.temperature_of(*language),
                );
            }
            for (language, evaluation) in &by_language {
                println!("\n=== {language} ===\n{evaluation}");
            }
            println!(
                "\n=== all languages ===\n{}",
                sentiment::evaluate(&model, &held_out)
            );
        }
        Command::Org {
            command: OrgCommand::SetTicketWebhook { org, url, format },
        } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            let secrets = SecretBox::load(&settings.security)?;
            let secret = tenants::set_ticket_webhook(&db, &secrets, org, &url, &format).await?;
            print_json(&serde_json::json!({
                "organization_id": org, "url": url, "format": format, "signing_secret": secret
            }))?;
        }
        Command::Org {
            command: OrgCommand::SetStripeKey { org },
        } => {
            let mut key = String::new();
            std::io::stdin().read_line(&mut key)?;
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            let secrets = SecretBox::load(&settings.security)?;
            tenants::set_stripe_key(&db, &secrets, org, key.trim()).await?;
            print_json(&serde_json::json!({ "organization_id": org, "stripe_key": "stored" }))?;
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
        Command::SigningSecret { command } => {
            let db = database::connect(&settings.database).await?;
            database::migrate(&db).await?;
            match command {
                SigningSecretCommand::Create { org } => {
                    tenants::find_organization(&db, org).await?;
                    let secrets = SecretBox::load(&settings.security)?;
                    let created = sessions::create_secret(&db, &secrets, org)
                        .await
                        .map_err(anyhow::Error::new)?;
                    print_json(&serde_json::json!({
                        "organization_id": org, "kid": created.kid,
                        "secret": created.secret, "created_at": created.created_at,
                    }))?;
                }
                SigningSecretCommand::List { org } => {
                    print_json(&sessions::list_secrets(&db, org).await?)?;
                }
                SigningSecretCommand::Revoke { org, kid } => {
                    if !sessions::revoke_secret(&db, org, &kid).await? {
                        anyhow::bail!("organization {org} has no active signing secret {kid}");
                    }
                    print_json(&serde_json::json!({"revoked": kid}))?;
                }
            }
        }
        // Answered before the configuration is read: it needs none.
        Command::EmbedSri => {}
        Command::StripeWebhook { command } => stripe_webhook(&settings, command).await?,
    }
    Ok(())
}

async fn stripe_webhook(settings: &Settings, command: StripeWebhookCommand) -> anyhow::Result<()> {
    let db = database::connect(&settings.database).await?;
    database::migrate(&db).await?;
    match command {
        StripeWebhookCommand::Endpoint { org, base_url } => {
            tenants::find_organization(&db, org).await?;
            let id = stripe_webhooks::endpoint_id(&db, org).await?;
            let base = base_url.unwrap_or_else(|| {
                format!("http://{}:{}", settings.server.host, settings.server.port)
            });
            let path = format!("/api/v1/stripe/webhooks/{id}");
            let url = format!("{}{path}", base.trim_end_matches('/'));
            print_json(&serde_json::json!({
                "organization_id": org, "endpoint_id": id, "path": path, "url": url,
            }))?;
        }
        StripeWebhookCommand::AddSecret { org } => {
            tenants::find_organization(&db, org).await?;
            let mut secret = String::new();
            std::io::stdin().read_line(&mut secret)?;
            let secret = secret.trim();
            anyhow::ensure!(
                saveloops::domain::stripe_signature::is_signing_secret(secret),
                "standard input must hold a Stripe webhook signing secret (whsec_…)"
            );
            let secrets = SecretBox::load(&settings.security)?;
            stripe_webhooks::endpoint_id(&db, org).await?;
            let stored = stripe_webhooks::add_secret(&db, &secrets, org, secret)
                .await
                .map_err(anyhow::Error::new)?;
            print_json(&stored)?;
        }
        StripeWebhookCommand::ListSecrets { org } => {
            print_json(&stripe_webhooks::list_secrets(&db, org).await?)?;
        }
        StripeWebhookCommand::RevokeSecret { org, id } => {
            if !stripe_webhooks::revoke_secret(&db, org, &id).await? {
                anyhow::bail!("organization {org} has no active webhook signing secret {id}");
            }
            print_json(&serde_json::json!({"revoked": id}))?;
        }
    }
    Ok(())
}

//! Building the application: database, actors and HTTP server. `main` and the tests both
//! use `Application::build`.
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use redis::aio::ConnectionManager;
use sea_orm::DatabaseConnection;
use workers::RetryPolicy;

use crate::actors::admin_desk::AdminDesk;
use crate::actors::analytics::Analytics;
use crate::actors::dunning_tracker::DunningTracker;
use crate::actors::key_verifier::KeyVerifier;
use crate::actors::member_desk::MemberDesk;
use crate::actors::offer_selector::OfferSelector;
use crate::actors::outcome_recorder::OutcomeRecorder;
use crate::actors::readiness::Readiness;
use crate::actors::reason_classifier::ReasonReader;
use crate::actors::sentiment_analyzer::SentimentAnalyzer;
use crate::actors::session_desk::SessionDesk;
use crate::actors::stripe_applier::StripeApplier;
use crate::actors::stripe_inbox::{EffectActors, StripeInbox};
use crate::actors::ticket_desk::TicketDesk;
use crate::actors::Actors;
use crate::clock::Clock;
use crate::config::{QueueBackend, Settings};
use crate::http::rate_limit::RateLimiter;
use crate::http::{dashboard, embed, extract, middleware, routes};
use crate::jobs;
use crate::sentiment::{self, Classifier};
use crate::store::applications::OfferApplier;
use crate::store::database::{self, WriteTurns};
use crate::store::tickets::TicketCourier;

pub struct Application {
    port: u16,
    server: Server,
    pub db: DatabaseConnection,
    pub actors: Actors,
    /// Shared with the workers that retry applications.
    pub applier: Arc<OfferApplier>,
    /// Shared with the workers that deliver tickets.
    pub courier: Arc<TicketCourier>,
}

impl Application {
    /// Connects and migrates the database, starts the actors and binds the HTTP listener
    /// (port 0 picks a free port). Must run inside an actix system.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        crate::http::auth::check_admin_token(&settings)?;
        let db = database::connect(&settings.database).await?;
        database::migrate(&db).await?;
        // The write triggers count low-confidence reasons against the configured bar.
        crate::store::analytics::set_confidence_bar(&db, settings.sentiment.ticket_min_confidence)
            .await?;
        let turns = WriteTurns::for_database(&settings.database)?;
        database::start_checkpointer(&settings.database, turns.clone()).await?;
        let queue = jobs::connect_queue(&settings, &db).await?;
        // With the Redis queue, readiness checks Redis and rate limits are shared through it.
        let redis = match settings.queue.backend {
            QueueBackend::Redis => Some(redis_connection(&settings.queue.redis_url).await?),
            QueueBackend::Database => None,
        };
        let limiter = match &redis {
            Some(conn) => RateLimiter::redis(
                &settings.rate_limit,
                conn.clone(),
                format!("{}:ratelimit:", settings.queue.key_prefix),
            ),
            None => RateLimiter::local(&settings.rate_limit),
        };
        let applier = Arc::new(jobs::offer_applier(&settings, db.clone(), queue.clone())?);
        let courier = Arc::new(TicketCourier::new(
            db.clone(),
            applier.secrets.clone(),
            queue,
        )?);
        // Trained once per process, off the arbiter (well under a second in release).
        let model = web::block(sentiment::shared_model)
            .await
            .context("training the sentiment model")?
            .map_err(|e| anyhow::anyhow!("the sentiment corpus is invalid: {e}"))?;
        let actors = start_actors(
            db.clone(),
            turns,
            &settings,
            applier.clone(),
            courier.clone(),
            model,
            redis,
        );
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address).with_context(|| {
            format!(
                "could not listen on {}:{}",
                settings.server.host, settings.server.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let server = http_server(listener, actors.clone(), &settings, limiter)?;
        Ok(Application {
            port,
            server,
            db,
            actors,
            applier,
            courier,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then finishes in-flight requests (and so their
    /// pending group-committed writes) before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub fn start_actors(
    db: DatabaseConnection,
    turns: WriteTurns,
    settings: &Settings,
    applier: Arc<OfferApplier>,
    courier: Arc<TicketCourier>,
    model: Arc<Classifier>,
    redis: Option<ConnectionManager>,
) -> Actors {
    let ttl = Duration::from_secs(settings.cache.ttl_seconds);
    let clock = Clock::default();
    let commits_in_flight = settings.database.postgres_commits_in_flight;
    let outcomes = OutcomeRecorder::new(db.clone(), turns.clone(), commits_in_flight)
        .with_clock(clock.clone())
        .start();
    let dunning = DunningTracker::with_ttl(db.clone(), turns.clone(), ttl, commits_in_flight)
        .remembering(settings.cache.max_end_users)
        .announced_changes(
            settings.database.url.clone(),
            Duration::from_secs(settings.cache.announced_ttl_seconds),
        )
        .start();
    let offers = OfferSelector::new(db.clone(), ttl, dunning.clone(), outcomes.clone())
        .with_clock(clock.clone())
        .start();
    let verifier = KeyVerifier::new(db.clone(), ttl);
    let known_keys = verifier.known_keys();
    let keys = verifier.start();
    let readiness = Readiness {
        db: db.clone(),
        redis,
    }
    .start();
    let admin = AdminDesk::new(db.clone(), applier.queue.clone(), keys.clone()).start();
    let analytics = Analytics::new(
        db.clone(),
        clock.clone(),
        settings.sentiment.ticket_min_confidence,
    )
    .start();
    let session_desk = SessionDesk::new(db.clone(), turns.clone(), applier.secrets.clone(), ttl);
    let known_signing_keys = session_desk.known_signing_keys();
    let session_ledger = session_desk.session_ledger();
    let sessions = session_desk.start();
    let applier_secrets = applier.secrets.clone();
    let stripe = StripeApplier::new(
        applier,
        RetryPolicy::new(settings.queue.retry.clone()),
        offers.clone(),
        dunning.clone(),
    )
    .start();
    let reasons = ReasonReader::start(model);
    let tickets = TicketDesk::new(db.clone(), courier, applier_secrets.clone()).start();
    let members = MemberDesk::new(db.clone(), clock.clone()).start();
    let sentiment = SentimentAnalyzer::new(
        outcomes.clone(),
        offers.clone(),
        dunning.clone(),
        tickets.clone(),
        settings.sentiment.ticket_min_confidence,
    )
    .start();
    let stripe_inbox = StripeInbox::new(
        db.clone(),
        turns.clone(),
        applier_secrets,
        ttl,
        clock.clone(),
        EffectActors {
            dunning: dunning.clone(),
            sentiment: sentiment.clone(),
            reasons: reasons.clone(),
        },
    );
    let known_stripe_endpoints = stripe_inbox.known_endpoints();
    let stripe_events = stripe_inbox.intake();
    let stripe_inbox = stripe_inbox.start();
    Actors {
        keys,
        known_keys,
        known_signing_keys,
        session_ledger,
        sessions,
        offers,
        outcomes,
        dunning,
        readiness,
        stripe,
        sentiment,
        reasons,
        tickets,
        admin,
        analytics,
        members,
        stripe_inbox,
        known_stripe_endpoints,
        stripe_events,
        clock,
    }
}

/// A Redis connection that reconnects by itself.
async fn redis_connection(url: &str) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).context("invalid Redis URL")?;
    ConnectionManager::new(client)
        .await
        .context("could not connect to Redis")
}

fn http_server(
    listener: TcpListener,
    actors: Actors,
    settings: &Settings,
    limiter: RateLimiter,
) -> anyhow::Result<Server> {
    let actors = web::Data::new(actors);
    let limiter = web::Data::new(limiter);
    let shared_settings = web::Data::new(settings.clone());
    let max_body = settings.server.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(ErrorHandlers::new().default_handler(middleware::json_error_body))
            .wrap(from_fn(middleware::request_span))
            .app_data(actors.clone())
            .app_data(shared_settings.clone())
            .app_data(limiter.clone())
            .app_data(extract::json_config(max_body))
            .app_data(web::PayloadConfig::new(max_body))
            .configure(routes::configure)
            .configure(embed::configure)
            .configure(dashboard::configure)
    })
    .shutdown_timeout(settings.server.shutdown_timeout_seconds)
    .listen(listener)
    .context("could not start the HTTP server")?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    server = server.workers(http_workers(settings, cores));
    Ok(server.run())
}

/// HTTP worker threads: `server.workers`, or when it is 0, one per core, except that with
/// PostgreSQL one core is left to the actors' thread (which runs every group commit) and the
/// database's backends. Measured on 2 cores (alternating A/B, `wrk -t2 -c32`): with
/// PostgreSQL one worker answered intercept and outcome ~17 % faster and sentiment ~5 %
/// faster than two, payment events the same; with SQLite two workers answered intercept ~8 %
/// faster and the rest the same.
fn http_workers(settings: &Settings, cores: usize) -> usize {
    match settings.server.workers {
        0 if database::is_sqlite(&settings.database) => cores.max(1),
        0 => cores.saturating_sub(1).max(1),
        configured => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, workers: usize) -> Settings {
        let mut settings = Settings::load(None).expect("the defaults load");
        settings.database.url = url.to_owned();
        settings.server.workers = workers;
        settings
    }

    #[test]
    fn automatic_http_workers_leave_a_core_to_postgres_commits_only() {
        let sqlite = "sqlite://data/saveloops.db?mode=rwc";
        let postgres = "postgres://postgres@127.0.0.1:5432/saveloops";
        assert_eq!(http_workers(&settings(sqlite, 0), 2), 2);
        assert_eq!(http_workers(&settings(sqlite, 0), 1), 1);
        assert_eq!(http_workers(&settings(postgres, 0), 2), 1);
        assert_eq!(http_workers(&settings(postgres, 0), 8), 7);
        assert_eq!(http_workers(&settings(postgres, 0), 1), 1);
        // A configured number is kept whatever the database.
        assert_eq!(http_workers(&settings(postgres, 3), 2), 3);
        assert_eq!(http_workers(&settings(sqlite, 1), 2), 1);
    }
}

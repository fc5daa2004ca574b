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
use sea_orm::DatabaseConnection;
use workers::RetryPolicy;

use crate::actors::dunning_tracker::DunningTracker;
use crate::actors::key_verifier::KeyVerifier;
use crate::actors::offer_selector::OfferSelector;
use crate::actors::outcome_recorder::OutcomeRecorder;
use crate::actors::readiness::Readiness;
use crate::actors::stripe_applier::StripeApplier;
use crate::actors::Actors;
use crate::applications::OfferApplier;
use crate::config::Settings;
use crate::http::{extract, middleware, routes};
use crate::{database, jobs};

pub struct Application {
    port: u16,
    server: Server,
    pub db: DatabaseConnection,
    pub actors: Actors,
    /// Shared with the workers that retry applications.
    pub applier: Arc<OfferApplier>,
}

impl Application {
    /// Connects and migrates the database, starts the actors and binds the HTTP listener
    /// (port 0 picks a free port). Must run inside an actix system.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = database::connect(&settings.database).await?;
        database::migrate(&db).await?;
        let queue = jobs::connect_queue(&settings, &db).await?;
        let applier = Arc::new(jobs::offer_applier(&settings, db.clone(), queue)?);
        let actors = start_actors(db.clone(), &settings, applier.clone());
        let address = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind(address).with_context(|| {
            format!(
                "could not listen on {}:{}",
                settings.server.host, settings.server.port
            )
        })?;
        let port = listener.local_addr()?.port();
        let server = http_server(listener, actors.clone(), &settings)?;
        Ok(Application {
            port,
            server,
            db,
            actors,
            applier,
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
    settings: &Settings,
    applier: Arc<OfferApplier>,
) -> Actors {
    let ttl = Duration::from_secs(settings.cache.ttl_seconds);
    let outcomes = OutcomeRecorder::new(db.clone()).start();
    let dunning = DunningTracker::new(db.clone()).start();
    let offers = OfferSelector::new(db.clone(), ttl, dunning.clone(), outcomes.clone()).start();
    let keys = KeyVerifier::new(db.clone(), ttl).start();
    let readiness = Readiness { db }.start();
    let stripe = StripeApplier::new(
        applier,
        RetryPolicy::new(settings.queue.retry.clone()),
        offers.clone(),
        dunning.clone(),
    )
    .start();
    Actors {
        keys,
        offers,
        outcomes,
        dunning,
        readiness,
        stripe,
    }
}

fn http_server(
    listener: TcpListener,
    actors: Actors,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let actors = web::Data::new(actors);
    let shared_settings = web::Data::new(settings.clone());
    let max_body = settings.server.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(ErrorHandlers::new().default_handler(middleware::json_error_body))
            .wrap(from_fn(middleware::request_span))
            .app_data(actors.clone())
            .app_data(shared_settings.clone())
            .app_data(extract::json_config(max_body))
            .app_data(web::PayloadConfig::new(max_body))
            .configure(routes::configure)
    })
    .shutdown_timeout(settings.server.shutdown_timeout_seconds)
    .listen(listener)
    .context("could not start the HTTP server")?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}

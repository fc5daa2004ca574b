//! The service's background work: job handlers for the queue, the reconciler, and the
//! worker process (`saveloops work`, or inside `saveloops serve`).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use workers::{
    DatabaseQueue, Job, JobHandler, JobOutcome, Queue, RedisQueue, RetryPolicy, WorkerConfig,
    WorkerPool,
};

use crate::applications::{Attempt, OfferApplier, Status, APPLY_OFFER};
use crate::config::{QueueBackend, Settings};
use crate::secrets::SecretBox;
use crate::stripe::StripeClient;
use crate::tickets::{TicketCourier, DELIVER_TICKET};

/// The queue the configuration names.
pub async fn connect_queue(
    settings: &Settings,
    db: &DatabaseConnection,
) -> anyhow::Result<Arc<dyn Queue>> {
    Ok(match settings.queue.backend {
        QueueBackend::Database => Arc::new(DatabaseQueue::new(db.clone())),
        QueueBackend::Redis => Arc::new(
            RedisQueue::connect(&settings.queue.redis_url, settings.queue.key_prefix.clone())
                .await
                .map_err(|e| anyhow::anyhow!("could not connect to the Redis queue: {e}"))?,
        ),
    })
}

/// Everything that applies offers, built once from the configuration.
pub fn offer_applier(
    settings: &Settings,
    db: DatabaseConnection,
    queue: Arc<dyn Queue>,
) -> anyhow::Result<OfferApplier> {
    Ok(OfferApplier {
        db,
        stripe: StripeClient::new(
            settings.stripe.api_base.clone(),
            Duration::from_secs(settings.stripe.timeout_seconds),
        )
        .map_err(|e| anyhow::anyhow!("could not build the Stripe client: {e}"))?,
        secrets: SecretBox::load(&settings.security)?,
        queue,
        idempotency_window: TimeDelta::seconds(settings.stripe.idempotency_window_seconds),
    })
}

/// Retries an offer application.
pub struct ApplyOfferJob {
    pub applier: Arc<OfferApplier>,
}

#[async_trait]
impl JobHandler for ApplyOfferJob {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let Some(application_id) = APPLY_OFFER.row_in(job) else {
            return JobOutcome::Fail(format!("job {} has no application_id", job.id));
        };
        match self.applier.attempt(application_id).await {
            Ok(Attempt::Applied) => JobOutcome::Done,
            Ok(Attempt::Transient { error }) => JobOutcome::Retry(error),
            Ok(Attempt::Permanent { error, .. }) => JobOutcome::Fail(error),
            // The ledger could not be read or written: try again later.
            Err(error) => JobOutcome::Retry(format!("{error:#}")),
        }
    }

    async fn on_dead(&self, job: &Job, error: &str) {
        if let Some(application_id) = APPLY_OFFER.row_in(job) {
            if let Err(e) = self
                .applier
                .set_status(application_id, Status::Dead, Some(error))
                .await
            {
                tracing::error!(error = %e, application_id, "could not mark the application dead");
            }
        }
    }
}

/// The worker side of the service: the pool that runs due jobs and the reconciler.
pub struct Workers {
    pub pool: WorkerPool,
    pub applier: Arc<OfferApplier>,
    pub courier: Arc<TicketCourier>,
    reconcile_every: Duration,
    grace: TimeDelta,
}

impl Workers {
    pub fn new(
        settings: &Settings,
        applier: Arc<OfferApplier>,
        courier: Arc<TicketCourier>,
    ) -> Workers {
        let mut handlers: HashMap<String, Arc<dyn JobHandler>> = HashMap::new();
        handlers.insert(
            APPLY_OFFER.kind.to_owned(),
            Arc::new(ApplyOfferJob {
                applier: applier.clone(),
            }),
        );
        handlers.insert(DELIVER_TICKET.kind.to_owned(), courier.clone());
        let pool = WorkerPool::new(
            applier.queue.clone(),
            RetryPolicy::new(settings.queue.retry.clone()),
            handlers,
            WorkerConfig {
                concurrency: settings.queue.concurrency,
                lease: Duration::from_secs(settings.queue.lease_seconds),
                poll_interval: Duration::from_millis(settings.queue.poll_interval_ms),
                shutdown_grace: Duration::from_secs(settings.queue.shutdown_grace_seconds),
            },
        );
        Workers {
            pool,
            applier,
            courier,
            reconcile_every: Duration::from_secs(settings.queue.reconcile_interval_seconds.max(1)),
            // A pending application younger than this may still be in its request's own
            // attempt; leave it to the request.
            grace: reconcile_grace(settings),
        }
    }

    /// Restores jobs the queue lost: applications and ticket deliveries the database says
    /// are unfinished but the queue does not hold.
    pub async fn reconcile(&self) -> anyhow::Result<usize> {
        reconcile(&self.applier, &self.courier, self.grace).await
    }

    /// Runs until `shutdown` turns true; running jobs then finish or are released.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let Workers {
            pool,
            applier,
            courier,
            reconcile_every,
            grace,
        } = self;
        let mut reconcile_shutdown = shutdown.clone();
        let reconciler = async move {
            loop {
                if let Err(e) = reconcile(&applier, &courier, grace).await {
                    tracing::error!(error = %format!("{e:#}"), "reconciling the queue failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(reconcile_every) => {}
                    _ = reconcile_shutdown.wait_for(|stop| *stop) => break,
                }
            }
        };
        tokio::join!(pool.run(shutdown), reconciler);
    }
}

async fn reconcile(
    applier: &OfferApplier,
    courier: &TicketCourier,
    grace: TimeDelta,
) -> anyhow::Result<usize> {
    Ok(applier.reconcile(grace).await? + courier.reconcile(grace).await?)
}

pub fn reconcile_grace(settings: &Settings) -> TimeDelta {
    TimeDelta::seconds(2 * settings.stripe.timeout_seconds as i64 + 5)
}

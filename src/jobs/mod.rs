//! The service's background work: job handlers for the queue, the reconciler, and the
//! worker process (`saveloops work`, or inside `saveloops serve`).
pub mod ledger;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use entity::{offer_application, support_ticket};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::watch;
use workers::{
    DatabaseQueue, DeadJob, Job, JobHandler, JobOutcome, Queue, RedisQueue, RetryPolicy,
    WorkerConfig, WorkerPool,
};

use crate::config::{QueueBackend, Settings};
use crate::store::applications::{Attempt, OfferApplier, Status, APPLY_OFFER};
use crate::store::secrets::SecretBox;
use crate::store::tickets::{TicketCourier, DELIVER_TICKET};
use crate::stripe::StripeClient;

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
        ledger: crate::store::applications::ledger::Ledger::start(&db),
        db,
        stripe: StripeClient::new(
            settings.stripe.api_base.clone(),
            Duration::from_secs(settings.stripe.timeout_seconds),
        )
        .map_err(|e| anyhow::anyhow!("could not build the Stripe client: {e}"))?,
        secrets: SecretBox::load(&settings.security)?,
        queue,
        idempotency_window: TimeDelta::seconds(settings.stripe.idempotency_window_seconds),
        keys: crate::store::applications::KeyCache::new(Duration::from_secs(
            settings.cache.ttl_seconds,
        )),
        coupons: Default::default(),
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
            Ok(Attempt::Transient { error } | Attempt::Replayed { error, .. }) => {
                JobOutcome::Retry(error)
            }
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
        )
        .with_observer(crate::metrics::job_observer());
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

/// Every job kind the service enqueues; `/metrics` exports their figures even when empty.
pub const JOB_KINDS: &[&str] = &[APPLY_OFFER.kind, DELIVER_TICKET.kind];

/// Brings a dead job back (due now, attempts reset) and puts its domain ledger back to
/// "retrying". `false` when no dead job has this id. The CLI (`saveloops queue retry`) and
/// the operator API both use this.
pub async fn retry_dead_job(
    queue: &dyn Queue,
    db: &DatabaseConnection,
    id: &str,
) -> anyhow::Result<bool> {
    if !queue.revive(id).await? {
        return Ok(false);
    }
    // Revived first: should a worker settle it at once, each ledger's own guard keeps
    // "applied" / "delivered" from being overwritten.
    if let Some(application) = APPLY_OFFER.row_of(id) {
        crate::store::applications::set_status(db, application, Status::Retrying, None).await?;
    } else if let Some(ticket) = DELIVER_TICKET.row_of(id) {
        crate::store::tickets::set_delivery_status(db, ticket, "retrying", None).await?;
    }
    Ok(true)
}

/// Deletes a dead job for good and marks its ledger entry failed with `note` (the job's
/// last error is kept after it). `false` when no dead job has this id.
pub async fn discard_dead_job(
    queue: &dyn Queue,
    db: &DatabaseConnection,
    id: &str,
    note: &str,
) -> anyhow::Result<bool> {
    let Some(job) = queue.dead_job(id).await? else {
        return Ok(false);
    };
    if !queue.delete_dead(id).await? {
        return Ok(false);
    }
    let error = match &job.last_error {
        Some(last) => format!("{note} Last error: {last}"),
        None => note.to_owned(),
    };
    if let Some(application) = APPLY_OFFER.row_of(id) {
        crate::store::applications::set_status(db, application, Status::Failed, Some(&error))
            .await?;
    } else if let Some(ticket) = DELIVER_TICKET.row_of(id) {
        crate::store::tickets::set_delivery_status(db, ticket, "failed", Some(&error)).await?;
    }
    Ok(true)
}

/// The organization each job belongs to, read from the domain ledger that owns the job
/// kind. Jobs of a kind without a ledger (or whose entry is gone) are left out. A new job
/// kind adds its lookup here.
pub async fn organizations_of_jobs(
    db: &DatabaseConnection,
    job_ids: &[&str],
) -> anyhow::Result<HashMap<String, i64>> {
    let mut owners = HashMap::new();
    let applications: Vec<i64> = job_ids
        .iter()
        .filter_map(|id| APPLY_OFFER.row_of(id))
        .collect();
    let tickets: Vec<i64> = job_ids
        .iter()
        .filter_map(|id| DELIVER_TICKET.row_of(id))
        .collect();
    if !applications.is_empty() {
        let rows: Vec<(i64, i64)> = offer_application::Entity::find()
            .select_only()
            .column(offer_application::Column::Id)
            .column(offer_application::Column::OrganizationId)
            .filter(offer_application::Column::Id.is_in(applications))
            .into_tuple()
            .all(db)
            .await?;
        for (application, organization) in rows {
            owners.insert(APPLY_OFFER.job_id(application), organization);
        }
    }
    if !tickets.is_empty() {
        let rows: Vec<(i64, i64)> = support_ticket::Entity::find()
            .select_only()
            .column(support_ticket::Column::Id)
            .column(support_ticket::Column::OrganizationId)
            .filter(support_ticket::Column::Id.is_in(tickets))
            .into_tuple()
            .all(db)
            .await?;
        for (ticket, organization) in rows {
            owners.insert(DELIVER_TICKET.job_id(ticket), organization);
        }
    }
    Ok(owners)
}

/// A dead job with the organization it belongs to, as operators see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OwnedDeadJob {
    #[serde(flatten)]
    pub job: DeadJob,
    pub organization_id: Option<i64>,
}

/// A page of dead jobs, most recently died first, each with its organization.
pub async fn dead_jobs_with_owners(
    queue: &dyn Queue,
    db: &DatabaseConnection,
    offset: usize,
    limit: usize,
) -> anyhow::Result<Vec<OwnedDeadJob>> {
    let dead = queue.dead(offset, limit).await?;
    let ids: Vec<&str> = dead.iter().map(|job| job.id.as_str()).collect();
    let owners = organizations_of_jobs(db, &ids).await?;
    Ok(dead
        .into_iter()
        .map(|job| OwnedDeadJob {
            organization_id: owners.get(&job.id).copied(),
            job,
        })
        .collect())
}

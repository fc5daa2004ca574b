//! The worker loop: claim due jobs, run their handlers concurrently, keep
//! their leases alive, and settle each one as done, retried or dead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinError, JoinSet};
use tracing::Instrument;

use crate::{Job, NoopObserver, Queue, QueueError, QueueObserver, RetryPolicy};

/// What a handler made of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done: the job is acked and forgotten.
    Done,
    /// Transient failure: try again later, or bury once attempts run out.
    Retry(String),
    /// Permanent failure: the job is acked and not tried again. The handler
    /// is expected to have recorded the failure in its own ledger.
    Fail(String),
}

/// Runs the jobs of one kind. Delivery is at-least-once, so `handle` must be
/// idempotent (the service's ledger makes it so).
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn handle(&self, job: &Job) -> JobOutcome;

    /// Called once the job has been buried after its last failed attempt,
    /// e.g. to mark the ledger row dead.
    async fn on_dead(&self, _job: &Job, _error: &str) {}
}

/// How a [`WorkerPool`] runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Lease taken per claim; running jobs extend it every half lease.
    pub lease: Duration,
    /// Longest idle wait before looking for due jobs again.
    pub poll_interval: Duration,
    /// On shutdown, how long running jobs get to finish before they are
    /// stopped and released.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Claims jobs from a [`Queue`] and runs them with the handler of their kind.
pub struct WorkerPool {
    shared: Arc<Shared>,
    config: WorkerConfig,
    waker: Arc<Notify>,
}

/// What each job's supervising task needs; shared so the tasks are `'static`.
#[derive(Clone)]
struct Shared {
    queue: Arc<dyn Queue>,
    policy: RetryPolicy,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    observer: Arc<dyn QueueObserver>,
    lease: Duration,
}

/// Once released jobs are handed back, how long to wait for their release
/// calls before giving up on them (their leases expire anyway).
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

impl WorkerPool {
    pub fn new(
        queue: Arc<dyn Queue>,
        policy: RetryPolicy,
        handlers: HashMap<String, Arc<dyn JobHandler>>,
        config: WorkerConfig,
    ) -> Self {
        let config = WorkerConfig {
            concurrency: config.concurrency.max(1),
            // Extending every half lease needs a lease of some length.
            lease: config.lease.max(Duration::from_millis(2)),
            ..config
        };
        Self {
            shared: Arc::new(Shared {
                queue,
                policy,
                handlers,
                observer: Arc::new(NoopObserver),
                lease: config.lease,
            }),
            config,
            waker: Arc::new(Notify::new()),
        }
    }

    /// Reports job events to `observer` instead of nowhere.
    pub fn with_observer(mut self, observer: Arc<dyn QueueObserver>) -> Self {
        let mut shared = Shared::clone(&self.shared);
        shared.observer = observer;
        self.shared = Arc::new(shared);
        self
    }

    /// Poke it (`notify_one`) after enqueueing a job due now so an idle pool
    /// claims at once instead of at its next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.waker.clone()
    }

    /// Claims once, runs what it got to completion, and says how many jobs
    /// it ran. For tests and one-shot drains; services use [`run`](Self::run).
    pub async fn run_once(&self) -> Result<usize, QueueError> {
        let jobs = self
            .shared
            .queue
            .claim(self.config.concurrency, self.config.lease)
            .await?;
        let claimed = jobs.len();
        let mut running = JoinSet::new();
        for job in jobs {
            running.spawn(Shared::supervise(self.shared.clone(), job, None));
        }
        while let Some(finished) = running.join_next().await {
            log_supervisor_end(finished);
        }
        Ok(claimed)
    }

    /// Runs until `shutdown` turns true (or its sender is dropped): claims up
    /// to the free concurrency, idles for the poll interval (or until woken)
    /// when nothing is due. On shutdown it stops claiming, gives running jobs
    /// the grace period, then stops the rest and releases them.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let mut running: JoinSet<()> = JoinSet::new();
        tracing::info!(
            concurrency = self.config.concurrency,
            kinds = ?self.shared.handlers.keys().collect::<Vec<_>>(),
            "worker pool started"
        );

        while !*shutdown.borrow() {
            // Finished tasks still count in `len` until joined.
            while let Some(finished) = running.try_join_next() {
                log_supervisor_end(finished);
            }
            let free = self.config.concurrency.saturating_sub(running.len());
            if free > 0 {
                match self.shared.queue.claim(free, self.config.lease).await {
                    Ok(jobs) => {
                        for job in jobs {
                            running.spawn(Shared::supervise(
                                self.shared.clone(),
                                job,
                                Some(cancel_rx.clone()),
                            ));
                        }
                    }
                    // The backend may be briefly away; try again next poll.
                    Err(error) => tracing::error!(error = ?error, "failed to claim jobs"),
                }
            }
            // Wake on whichever comes first: a free slot, a poke, shutdown or
            // the poll interval. A full claim also ends up here, because the
            // pool is then full and the next wake is a finished job.
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                () = self.waker.notified() => {}
                Some(finished) = running.join_next(), if !running.is_empty() => {
                    log_supervisor_end(finished);
                }
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }

        tracing::info!(running = running.len(), "worker pool draining");
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while let Some(finished) = running.join_next().await {
                log_supervisor_end(finished);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                running = running.len(),
                "grace period over; stopping and releasing running jobs"
            );
            let _ = cancel_tx.send(true);
            let released = tokio::time::timeout(RELEASE_TIMEOUT, async {
                while let Some(finished) = running.join_next().await {
                    log_supervisor_end(finished);
                }
            })
            .await;
            if released.is_err() {
                running.abort_all();
            }
        }
        tracing::info!("worker pool stopped");
    }
}

fn log_supervisor_end(finished: Result<(), JoinError>) {
    if let Err(error) = finished {
        if error.is_panic() {
            tracing::error!(error = %error, "job supervisor panicked");
        }
    }
}

/// Resolves once `cancel` says stop; never, without a cancel channel.
async fn cancelled(cancel: &mut Option<watch::Receiver<bool>>) {
    match cancel {
        Some(rx) => {
            if rx.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

fn panic_message(error: &JoinError) -> String {
    format!("handler panicked: {error}")
}

impl Shared {
    /// Owns one claimed job from start to settlement.
    async fn supervise(self: Arc<Self>, job: Job, mut cancel: Option<watch::Receiver<bool>>) {
        let span =
            tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
        async move {
            let Some(handler) = self.handlers.get(&job.kind).cloned() else {
                let error = format!("no handler registered for job kind `{}`", job.kind);
                tracing::error!("{error}; burying the job");
                if self.settled("bury", self.queue.bury(&job, &error).await) {
                    self.observer.job_dead(&job, &error);
                }
                return;
            };

            self.observer.job_started(&job);
            let started = std::time::Instant::now();
            let job = Arc::new(job);
            // The handler runs in its own task so a panic surfaces as a
            // JoinError here instead of taking the pool down.
            let mut task = tokio::spawn({
                let job = job.clone();
                let handler = handler.clone();
                async move { handler.handle(&job).await }.in_current_span()
            });
            let half_lease = self.lease / 2;
            let mut extend =
                tokio::time::interval_at(tokio::time::Instant::now() + half_lease, half_lease);
            extend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

            let outcome = loop {
                tokio::select! {
                    // A finished handler wins over shutdown: settle its result.
                    biased;
                    result = &mut task => break result,
                    () = cancelled(&mut cancel) => {
                        task.abort();
                        let _ = (&mut task).await;
                        tracing::info!("stopped by shutdown; releasing the job");
                        self.settled("release", self.queue.release(&job).await);
                        return;
                    }
                    _ = extend.tick() => self.extend(&job).await,
                }
            };

            match outcome {
                Ok(JobOutcome::Done) => {
                    if self.settled("ack", self.queue.ack(&job).await) {
                        tracing::info!(
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "job done"
                        );
                        self.observer.job_succeeded(&job, started.elapsed());
                    }
                }
                Ok(JobOutcome::Fail(error)) => {
                    tracing::warn!(error = %error, "job failed permanently");
                    if self.settled("ack", self.queue.ack(&job).await) {
                        self.observer.job_failed(&job, &error);
                    }
                }
                Ok(JobOutcome::Retry(error)) => self.transient_failure(&job, handler, &error).await,
                Err(join_error) => {
                    let error = panic_message(&join_error);
                    self.transient_failure(&job, handler, &error).await;
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn extend(&self, job: &Job) {
        match self.queue.extend_lease(job, self.lease).await {
            Ok(true) => tracing::debug!("lease extended"),
            // Someone else may now run it too; ours keeps going, and its
            // settlement will be refused.
            Ok(false) => tracing::warn!("lease lost while the job was running"),
            Err(error) => tracing::warn!(error = ?error, "failed to extend the lease"),
        }
    }

    async fn transient_failure(&self, job: &Job, handler: Arc<dyn JobHandler>, error: &str) {
        if self.policy.is_exhausted(job.attempts) {
            tracing::error!(error = %error, "job out of attempts; burying it");
            if self.settled("bury", self.queue.bury(job, error).await) {
                self.observer.job_dead(job, error);
                handler.on_dead(job, error).await;
            }
            return;
        }
        let delay = self.policy.delay_for(job.attempts);
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        tracing::warn!(error = %error, retry_in_ms = delay.as_millis() as u64, "job failed; retrying");
        if self.settled("retry", self.queue.retry_at(job, at, error).await) {
            self.observer.job_retried(job, delay, error);
        }
    }

    /// Logs a failed settlement. A lost lease is routine (someone else holds
    /// the job now); anything else leaves the job to come back when its
    /// lease expires.
    fn settled(&self, op: &str, result: Result<(), QueueError>) -> bool {
        match result {
            Ok(()) => true,
            Err(error) if error.is_lease_lost() => {
                tracing::warn!(op, "lease lost before the job was settled");
                false
            }
            Err(error) => {
                tracing::error!(op, error = ?error, "failed to settle the job");
                false
            }
        }
    }
}

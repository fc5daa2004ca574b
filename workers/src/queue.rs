use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{DeadJob, Job, NewJob, QueueError, QueueStats};

/// A durable queue of jobs with leases and dead letters.
///
/// Life of a job: *scheduled* (due now or later) → *in flight* (claimed under
/// a lease) → acked (gone), retried (scheduled again), released (scheduled
/// again without counting the attempt) or buried (*dead*). A lease that
/// expires before the job is settled makes it claimable again; settling with
/// a stale lease fails with [`QueueError::LeaseLost`]. A lease stays usable
/// after it expires until another claim actually takes the job.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Adds a job. Returns `false` (and changes nothing) when a job with the
    /// same id already exists in any state, dead included.
    async fn enqueue(&self, job: NewJob) -> Result<bool, QueueError>;

    /// Atomically takes up to `max` due jobs, oldest due first, and leases
    /// them for `lease`. Each claim counts as an attempt.
    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<Job>, QueueError>;

    /// Pushes the lease expiry to now + `lease`. `false` when the lease is lost.
    async fn extend_lease(&self, job: &Job, lease: Duration) -> Result<bool, QueueError>;

    /// The job is done: forget it.
    async fn ack(&self, job: &Job) -> Result<(), QueueError>;

    /// Schedules another attempt at `at`, keeping the attempt count and
    /// recording `error`.
    async fn retry_at(&self, job: &Job, at: DateTime<Utc>, error: &str) -> Result<(), QueueError>;

    /// Moves the job to the dead letters, keeping payload, attempts and `error`.
    async fn bury(&self, job: &Job, error: &str) -> Result<(), QueueError>;

    /// Gives the job back, due again at once, without counting this attempt
    /// (used on graceful shutdown).
    async fn release(&self, job: &Job) -> Result<(), QueueError>;

    /// Whether a job with this id exists in any state.
    async fn contains(&self, id: &str) -> Result<bool, QueueError>;

    async fn stats(&self) -> Result<QueueStats, QueueError>;

    /// Dead letters, most recently died first.
    async fn dead(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError>;

    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError>;

    /// Makes a dead job due now with its attempts reset to 0. `false` when no
    /// dead job has this id.
    async fn revive(&self, id: &str) -> Result<bool, QueueError>;

    /// Deletes a dead job for good. `false` when no dead job has this id.
    async fn delete_dead(&self, id: &str) -> Result<bool, QueueError>;
}

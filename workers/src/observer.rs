use std::time::Duration;

use crate::Job;

/// Hooks the worker runtime calls as jobs move along, so the service can feed
/// its metrics without this crate depending on a metrics library.
/// Every method defaults to doing nothing.
pub trait QueueObserver: Send + Sync {
    fn job_started(&self, _job: &Job) {}
    fn job_succeeded(&self, _job: &Job, _elapsed: Duration) {}
    /// A transient failure; the job runs again after `delay`.
    fn job_retried(&self, _job: &Job, _delay: Duration, _error: &str) {}
    /// The handler reported a permanent failure; the job was dropped.
    fn job_failed(&self, _job: &Job, _error: &str) {}
    /// The job was moved to the dead letters.
    fn job_dead(&self, _job: &Job, _error: &str) {}
}

/// The observer used when none is given.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl QueueObserver for NoopObserver {}

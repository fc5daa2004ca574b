//! Durable job runtime for Saveloops: a [`Queue`] with Redis and database
//! backends, a [`RetryPolicy`] and a [`WorkerPool`] that claims, leases and
//! settles jobs.
//!
//! The crate knows nothing about the domain. Callers keep their own ledger
//! (e.g. `offer_applications`) and use caller-chosen job ids such as
//! `"apply_offer:42"`, so enqueueing is idempotent and a reconciler can
//! re-enqueue whatever the ledger still considers pending.
//!
//! Delivery is at-least-once: a job whose lease expires (crashed or stalled
//! worker) is handed out again, so handlers must be idempotent.

mod database_queue;
mod error;
mod job;
mod observer;
mod queue;
mod redis_queue;
mod retry_policy;
mod runtime;

pub use database_queue::DatabaseQueue;
pub use error::QueueError;
pub use job::{DeadJob, Job, KindStats, NewJob, QueueStats};
pub use observer::{NoopObserver, QueueObserver};
pub use queue::Queue;
pub use redis_queue::RedisQueue;
pub use retry_policy::{RetryConfig, RetryPolicy};
pub use runtime::{JobHandler, JobOutcome, WorkerConfig, WorkerPool};

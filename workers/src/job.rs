use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

/// A job to put on the queue. `id` is chosen by the caller and doubles as the
/// idempotency key: a second enqueue with the same id is a no-op.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
}

impl NewJob {
    /// A job due right away.
    pub fn new(id: impl Into<String>, kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
            payload,
            run_at: Utc::now(),
        }
    }

    /// The same job, due at `run_at` instead.
    pub fn run_at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = run_at;
        self
    }
}

/// A claimed job, leased to the worker that holds `lease_token`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts so far, including the current claim.
    pub attempts: u32,
    pub enqueued_at: DateTime<Utc>,
    /// When the job became claimable for this claim: its due time, or the
    /// expiry of the previous lease when it is being re-delivered.
    pub run_at: DateTime<Utc>,
    /// Identifies this lease; settling with a stale token is refused.
    pub lease_token: String,
    /// Error of the previous attempt, if any.
    pub last_error: Option<String>,
}

/// A job that ran out of attempts (or was buried on purpose), kept for
/// inspection and manual revival.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadJob {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub died_at: DateTime<Utc>,
}

/// Figures for one job kind, or for all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KindStats {
    /// Due now and not leased (including jobs whose lease has expired).
    pub ready: u64,
    /// Due later.
    pub scheduled: u64,
    /// Leased and the lease has not expired.
    pub in_flight: u64,
    pub dead: u64,
    /// How long the longest-waiting ready job has been due.
    pub oldest_due_age_seconds: Option<f64>,
    /// Retries scheduled so far; survives restarts, never decreases.
    pub retries_total: u64,
}

impl KindStats {
    fn is_empty(&self) -> bool {
        self.ready == 0
            && self.scheduled == 0
            && self.in_flight == 0
            && self.dead == 0
            && self.retries_total == 0
    }

    fn absorb(&mut self, other: &KindStats) {
        self.ready += other.ready;
        self.scheduled += other.scheduled;
        self.in_flight += other.in_flight;
        self.dead += other.dead;
        self.retries_total += other.retries_total;
        self.oldest_due_age_seconds =
            match (self.oldest_due_age_seconds, other.oldest_due_age_seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
    }
}

/// A snapshot of the queue, per kind and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueStats {
    pub total: KindStats,
    /// Kinds with at least one job or retry; kinds with nothing are left out.
    pub kinds: BTreeMap<String, KindStats>,
}

impl QueueStats {
    /// Builds the snapshot from per-kind figures, computing the total.
    pub(crate) fn from_kinds(kinds: impl IntoIterator<Item = (String, KindStats)>) -> Self {
        let mut stats = QueueStats::default();
        for (kind, figures) in kinds {
            if figures.is_empty() {
                continue;
            }
            stats.total.absorb(&figures);
            stats.kinds.insert(kind, figures);
        }
        stats
    }

    /// Figures for one kind; all zero when the kind has nothing.
    pub fn kind(&self, kind: &str) -> KindStats {
        self.kinds.get(kind).cloned().unwrap_or_default()
    }
}

/// Unix milliseconds: the one time format both backends store.
pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(id: &str, millis: i64) -> Result<DateTime<Utc>, crate::QueueError> {
    Utc.timestamp_millis_opt(millis).single().ok_or_else(|| {
        crate::QueueError::corrupt(id, format!("timestamp {millis} is out of range"))
    })
}

/// Age in seconds of something due at `due_millis`, seen at `now_millis`.
pub(crate) fn age_seconds(now_millis: i64, due_millis: i64) -> f64 {
    (now_millis - due_millis).max(0) as f64 / 1000.0
}

/// Lease length in milliseconds, at least 1 so a lease never starts expired.
pub(crate) fn lease_millis(lease: std::time::Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// A fresh random lease token (128 bits, hex).
pub(crate) fn new_lease_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

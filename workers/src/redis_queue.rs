//! Redis backend. Every step that touches more than one key is a Lua script
//! (see `lua/`), so each queue operation is atomic on the server.
//!
//! Keys, all under the configured prefix:
//! - `job:<id>`: hash with kind, payload, attempts, enqueued_at, run_at,
//!   state, lease_token, last_error, died_at;
//! - `scheduled`, `inflight`, `dead`: sorted sets of job ids scored by due
//!   time, lease expiry and time of death (unix ms);
//! - `kind:<kind>:scheduled|inflight|dead`: the same per kind, for stats;
//! - `kinds`: set of kinds seen; `retries`: hash kind → retries scheduled.
//!
//! The scripts build `job:<id>` and per-kind key names from the prefix, which
//! is fine on a single Redis; on Redis Cluster put a hash tag in the prefix
//! (e.g. `{saveloops}:queue:`) so every key lands in one slot.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::job::{age_seconds, from_millis, lease_millis, new_lease_token, to_millis};
use crate::{DeadJob, Job, KindStats, NewJob, Queue, QueueError, QueueStats};

/// The scripts, hashed once; `Script` sends EVALSHA and reloads the script
/// when the server answers NOSCRIPT (e.g. after a restart).
struct Scripts {
    enqueue: Script,
    claim: Script,
    extend: Script,
    ack: Script,
    retry: Script,
    bury: Script,
    release: Script,
    revive: Script,
    delete_dead: Script,
    dead: Script,
    stats: Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            enqueue: Script::new(include_str!("lua/enqueue.lua")),
            claim: Script::new(include_str!("lua/claim.lua")),
            extend: Script::new(include_str!("lua/extend.lua")),
            ack: Script::new(include_str!("lua/ack.lua")),
            retry: Script::new(include_str!("lua/retry.lua")),
            bury: Script::new(include_str!("lua/bury.lua")),
            release: Script::new(include_str!("lua/release.lua")),
            revive: Script::new(include_str!("lua/revive.lua")),
            delete_dead: Script::new(include_str!("lua/delete_dead.lua")),
            dead: Script::new(include_str!("lua/dead.lua")),
            stats: Script::new(include_str!("lua/stats.lua")),
        }
    }
}

/// A [`Queue`] kept in Redis.
#[derive(Clone)]
pub struct RedisQueue {
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// One claimed job as `claim.lua` returns it.
type ClaimedRow = (String, String, String, u32, i64, i64, Option<String>);
/// One dead job as `dead.lua` returns it.
type DeadRow = (String, String, String, u32, Option<String>, i64);
/// One kind's figures as `stats.lua` returns them.
type StatsRow = (String, u64, u64, u64, u64, Option<i64>, u64);

impl RedisQueue {
    /// Uses an existing connection manager; all keys start with `prefix`
    /// (e.g. `saveloops:queue:`).
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            scripts: std::sync::Arc::new(Scripts::load()),
        }
    }

    /// Connects to `url` (e.g. `redis://127.0.0.1:6379`).
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, QueueError> {
        let client = redis::Client::open(url).map_err(QueueError::redis("open a client"))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(QueueError::redis("connect"))?;
        Ok(Self::new(conn, prefix))
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn job_key(&self, id: &str) -> String {
        format!("{}job:{id}", self.prefix)
    }

    /// Runs one of the lease-checked scripts; a 0 reply means the lease is lost.
    async fn settle(
        &self,
        op: &'static str,
        invocation: &mut redis::ScriptInvocation<'_>,
        job: &Job,
    ) -> Result<(), QueueError> {
        let settled: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis(op))?;
        if settled == 1 {
            Ok(())
        } else {
            Err(QueueError::LeaseLost { id: job.id.clone() })
        }
    }
}

fn parse_payload(id: &str, payload: &str) -> Result<serde_json::Value, QueueError> {
    serde_json::from_str(payload).map_err(|source| QueueError::Payload {
        id: id.to_owned(),
        source,
    })
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, job: NewJob) -> Result<bool, QueueError> {
        let payload =
            serde_json::to_string(&job.payload).map_err(|source| QueueError::Payload {
                id: job.id.clone(),
                source,
            })?;
        let added: i64 = self
            .scripts
            .enqueue
            .key(self.job_key(&job.id))
            .key(self.key("scheduled"))
            .key(self.key("kinds"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.kind)
            .arg(payload)
            .arg(to_millis(job.run_at))
            .arg(to_millis(Utc::now()))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("enqueue a job"))?;
        Ok(added == 1)
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<Job>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = to_millis(Utc::now());
        let token = new_lease_token();
        let rows: Vec<ClaimedRow> = self
            .scripts
            .claim
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .arg(&self.prefix)
            .arg(now)
            .arg(max)
            .arg(now.saturating_add(lease_millis(lease)))
            .arg(&token)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("claim jobs"))?;
        rows.into_iter()
            .map(
                |(id, kind, payload, attempts, enqueued_at, run_at, last_error)| {
                    Ok(Job {
                        payload: parse_payload(&id, &payload)?,
                        enqueued_at: from_millis(&id, enqueued_at)?,
                        run_at: from_millis(&id, run_at)?,
                        lease_token: token.clone(),
                        id,
                        kind,
                        attempts,
                        last_error,
                    })
                },
            )
            .collect()
    }

    async fn extend_lease(&self, job: &Job, lease: Duration) -> Result<bool, QueueError> {
        let expiry = to_millis(Utc::now()).saturating_add(lease_millis(lease));
        let extended: i64 = self
            .scripts
            .extend
            .key(self.job_key(&job.id))
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.lease_token)
            .arg(expiry)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("extend a lease"))?;
        Ok(extended == 1)
    }

    async fn ack(&self, job: &Job) -> Result<(), QueueError> {
        let mut invocation = self.scripts.ack.key(self.job_key(&job.id));
        invocation
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.lease_token);
        self.settle("ack a job", &mut invocation, job).await
    }

    async fn retry_at(&self, job: &Job, at: DateTime<Utc>, error: &str) -> Result<(), QueueError> {
        let mut invocation = self.scripts.retry.key(self.job_key(&job.id));
        invocation
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .key(self.key("retries"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.lease_token)
            .arg(to_millis(at))
            .arg(error);
        self.settle("schedule a retry", &mut invocation, job).await
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<(), QueueError> {
        let mut invocation = self.scripts.bury.key(self.job_key(&job.id));
        invocation
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .key(self.key("dead"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.lease_token)
            .arg(error)
            .arg(to_millis(Utc::now()));
        self.settle("bury a job", &mut invocation, job).await
    }

    async fn release(&self, job: &Job) -> Result<(), QueueError> {
        let mut invocation = self.scripts.release.key(self.job_key(&job.id));
        invocation
            .key(self.key("scheduled"))
            .key(self.key("inflight"))
            .arg(&self.prefix)
            .arg(&job.id)
            .arg(&job.lease_token);
        self.settle("release a job", &mut invocation, job).await
    }

    async fn contains(&self, id: &str) -> Result<bool, QueueError> {
        self.conn
            .clone()
            .exists(self.job_key(id))
            .await
            .map_err(QueueError::redis("look up a job"))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let now = to_millis(Utc::now());
        let rows: Vec<StatsRow> = self
            .scripts
            .stats
            .key(self.key("kinds"))
            .key(self.key("retries"))
            .arg(&self.prefix)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("read queue stats"))?;
        Ok(QueueStats::from_kinds(rows.into_iter().map(
            |(kind, ready, scheduled, in_flight, dead, oldest_due, retries_total)| {
                let figures = KindStats {
                    ready,
                    scheduled,
                    in_flight,
                    dead,
                    oldest_due_age_seconds: oldest_due.map(|due| age_seconds(now, due)),
                    retries_total,
                };
                (kind, figures)
            },
        )))
    }

    async fn dead(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<DeadRow> = self
            .scripts
            .dead
            .key(self.key("dead"))
            .arg(&self.prefix)
            .arg(offset)
            .arg(limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("list dead jobs"))?;
        rows.into_iter()
            .map(|(id, kind, payload, attempts, last_error, died_at)| {
                Ok(DeadJob {
                    payload: parse_payload(&id, &payload)?,
                    died_at: from_millis(&id, died_at)?,
                    id,
                    kind,
                    attempts,
                    last_error,
                })
            })
            .collect()
    }

    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        #[allow(clippy::type_complexity)]
        let (state, kind, payload, attempts, last_error, died_at): (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<u32>,
            Option<String>,
            Option<i64>,
        ) = redis::cmd("HMGET")
            .arg(self.job_key(id))
            .arg(&[
                "state",
                "kind",
                "payload",
                "attempts",
                "last_error",
                "died_at",
            ])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("read a dead job"))?;
        if state.as_deref() != Some("dead") {
            return Ok(None);
        }
        let (Some(kind), Some(payload), Some(died_at)) = (kind, payload, died_at) else {
            return Err(QueueError::corrupt(
                id,
                "dead job hash lacks kind, payload or died_at",
            ));
        };
        Ok(Some(DeadJob {
            id: id.to_owned(),
            kind,
            payload: parse_payload(id, &payload)?,
            attempts: attempts.unwrap_or(0),
            last_error,
            died_at: from_millis(id, died_at)?,
        }))
    }

    async fn revive(&self, id: &str) -> Result<bool, QueueError> {
        let revived: i64 = self
            .scripts
            .revive
            .key(self.job_key(id))
            .key(self.key("scheduled"))
            .key(self.key("dead"))
            .arg(&self.prefix)
            .arg(id)
            .arg(to_millis(Utc::now()))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("revive a dead job"))?;
        Ok(revived == 1)
    }

    async fn delete_dead(&self, id: &str) -> Result<bool, QueueError> {
        let deleted: i64 = self
            .scripts
            .delete_dead
            .key(self.job_key(id))
            .key(self.key("dead"))
            .arg(&self.prefix)
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(QueueError::redis("delete a dead job"))?;
        Ok(deleted == 1)
    }
}

//! SQL backend (PostgreSQL or SQLite) over the `queue_jobs` and
//! `queue_counters` tables created by migration
//! `m20261125_000100_create_queue_jobs`.
//!
//! Times are BIGINT unix milliseconds, which compare exactly on both
//! backends. `run_at` is the due time while a job is scheduled and the lease
//! expiry while it is in flight, so one `(state, run_at)` index serves the
//! claim query for both fresh and expired-lease jobs. `due_at` remembers when
//! the job last became claimable: claimed jobs report it and `release` puts
//! the job back at that place in line.
//!
//! Statements are raw SQL because the query builder cannot express
//! `FOR UPDATE SKIP LOCKED` inside an `UPDATE … RETURNING`. The SQL uses `$n`
//! placeholders, which both PostgreSQL and sqlx's SQLite driver accept.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement,
    TransactionTrait, Value,
};

use crate::job::{age_seconds, from_millis, lease_millis, new_lease_token, to_millis};
use crate::{DeadJob, Job, KindStats, NewJob, Queue, QueueError, QueueStats};

const ENQUEUE: &str = "\
INSERT INTO queue_jobs (id, kind, payload, state, run_at, due_at, attempts, enqueued_at, updated_at)
VALUES ($1, $2, $3, 'scheduled', $4, $4, 0, $5, $5)
ON CONFLICT (id) DO NOTHING";

/// `$1` now, `$2` lease expiry, `$3` lease token, `$4` how many.
/// `due_at = run_at` keeps the pre-update `run_at` (SET reads the old row).
fn claim_sql(skip_locked: bool) -> String {
    format!(
        "\
UPDATE queue_jobs
SET state = 'inflight', due_at = run_at, run_at = $2, attempts = attempts + 1,
    lease_token = $3, updated_at = $1
WHERE id IN (
    SELECT id FROM queue_jobs
    WHERE state IN ('scheduled', 'inflight') AND run_at <= $1
    ORDER BY run_at, id
    LIMIT $4{}
)
RETURNING id, kind, payload, attempts, enqueued_at, due_at, last_error",
        if skip_locked {
            // Concurrent claimers each take different rows instead of queueing
            // up behind one another's row locks.
            "\n    FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    )
}

const EXTEND: &str = "\
UPDATE queue_jobs SET run_at = $3, updated_at = $4
WHERE id = $1 AND lease_token = $2 AND state = 'inflight'";

const ACK: &str = "\
DELETE FROM queue_jobs WHERE id = $1 AND lease_token = $2 AND state = 'inflight'";

const RETRY: &str = "\
UPDATE queue_jobs
SET state = 'scheduled', run_at = $3, due_at = $3, lease_token = NULL, last_error = $4,
    updated_at = $5
WHERE id = $1 AND lease_token = $2 AND state = 'inflight'";

const COUNT_RETRY: &str = "\
INSERT INTO queue_counters (name, value) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET value = queue_counters.value + 1";

const BURY: &str = "\
UPDATE queue_jobs
SET state = 'dead', died_at = $4, run_at = $4, lease_token = NULL, last_error = $3,
    updated_at = $4
WHERE id = $1 AND lease_token = $2 AND state = 'inflight'";

const RELEASE: &str = "\
UPDATE queue_jobs
SET state = 'scheduled', run_at = due_at, lease_token = NULL, updated_at = $3,
    attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
WHERE id = $1 AND lease_token = $2 AND state = 'inflight'";

const CONTAINS: &str = "SELECT 1 AS found FROM queue_jobs WHERE id = $1";

/// Expired leases count as ready: the next claim takes them.
const STATS: &str = "\
SELECT kind,
    COUNT(CASE WHEN state IN ('scheduled', 'inflight') AND run_at <= $1 THEN 1 END) AS ready,
    COUNT(CASE WHEN state = 'scheduled' AND run_at > $1 THEN 1 END) AS scheduled,
    COUNT(CASE WHEN state = 'inflight' AND run_at > $1 THEN 1 END) AS in_flight,
    COUNT(CASE WHEN state = 'dead' THEN 1 END) AS dead,
    MIN(CASE WHEN state IN ('scheduled', 'inflight') AND run_at <= $1 THEN run_at END) AS oldest_due
FROM queue_jobs
GROUP BY kind";

const RETRY_COUNTERS: &str = "\
SELECT name, value FROM queue_counters WHERE name LIKE 'retries:%'";

/// Counter row holding the retries scheduled for one kind.
const RETRY_COUNTER_PREFIX: &str = "retries:";

const DEAD: &str = "\
SELECT id, kind, payload, attempts, last_error, died_at FROM queue_jobs
WHERE state = 'dead'
ORDER BY died_at DESC, id DESC
LIMIT $1 OFFSET $2";

const DEAD_JOB: &str = "\
SELECT id, kind, payload, attempts, last_error, died_at FROM queue_jobs
WHERE id = $1 AND state = 'dead'";

const REVIVE: &str = "\
UPDATE queue_jobs
SET state = 'scheduled', attempts = 0, run_at = $2, due_at = $2, died_at = NULL, updated_at = $2
WHERE id = $1 AND state = 'dead'";

const DELETE_DEAD: &str = "DELETE FROM queue_jobs WHERE id = $1 AND state = 'dead'";

/// A [`Queue`] kept in the service's SQL database.
#[derive(Debug, Clone)]
pub struct DatabaseQueue {
    db: DatabaseConnection,
}

impl DatabaseQueue {
    /// The connection must reach a database where the queue migration ran.
    /// On SQLite, prefer a single-connection pool (sea-orm's default): SQLite
    /// has one writer anyway, and the claim relies on that.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn statement(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    /// Runs a lease-checked statement; no row touched means the lease is lost.
    async fn settle(
        &self,
        op: &'static str,
        sql: &str,
        values: impl IntoIterator<Item = Value>,
        job: &Job,
    ) -> Result<(), QueueError> {
        let result = self
            .db
            .execute_raw(self.statement(sql, values))
            .await
            .map_err(QueueError::database(op))?;
        lease_held(result.rows_affected(), job)
    }
}

fn lease_held(rows_affected: u64, job: &Job) -> Result<(), QueueError> {
    if rows_affected == 1 {
        Ok(())
    } else {
        Err(QueueError::LeaseLost { id: job.id.clone() })
    }
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, QueueError> {
    row.try_get("", column)
        .map_err(QueueError::database("read a queue row"))
}

fn attempts(row: &QueryResult, id: &str) -> Result<u32, QueueError> {
    let attempts: i32 = get(row, "attempts")?;
    u32::try_from(attempts).map_err(|_| QueueError::corrupt(id, format!("attempts is {attempts}")))
}

fn payload(row: &QueryResult, id: &str) -> Result<serde_json::Value, QueueError> {
    let text: String = get(row, "payload")?;
    serde_json::from_str(&text).map_err(|source| QueueError::Payload {
        id: id.to_owned(),
        source,
    })
}

fn count(row: &QueryResult, column: &str) -> Result<u64, QueueError> {
    let n: i64 = get(row, column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn dead_job(row: &QueryResult) -> Result<DeadJob, QueueError> {
    let id: String = get(row, "id")?;
    let died_at: Option<i64> = get(row, "died_at")?;
    let died_at = died_at.ok_or_else(|| QueueError::corrupt(&id, "dead job without died_at"))?;
    Ok(DeadJob {
        kind: get(row, "kind")?,
        payload: payload(row, &id)?,
        attempts: attempts(row, &id)?,
        last_error: get(row, "last_error")?,
        died_at: from_millis(&id, died_at)?,
        id,
    })
}

/// LIMIT/OFFSET as the BIGINT both backends take.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl Queue for DatabaseQueue {
    async fn enqueue(&self, job: NewJob) -> Result<bool, QueueError> {
        let payload =
            serde_json::to_string(&job.payload).map_err(|source| QueueError::Payload {
                id: job.id.clone(),
                source,
            })?;
        let result = self
            .db
            .execute_raw(self.statement(
                ENQUEUE,
                [
                    job.id.into(),
                    job.kind.into(),
                    payload.into(),
                    to_millis(job.run_at).into(),
                    to_millis(Utc::now()).into(),
                ],
            ))
            .await
            .map_err(QueueError::database("enqueue a job"))?;
        Ok(result.rows_affected() == 1)
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<Job>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let sql = match self.db.get_database_backend() {
            DbBackend::Postgres => claim_sql(true),
            // One writer at a time: the single UPDATE is atomic without locks.
            DbBackend::Sqlite => claim_sql(false),
            _ => {
                return Err(QueueError::Database {
                    op: "claim jobs",
                    source: DbErr::BackendNotSupported {
                        db: "this backend",
                        ctx: "the job queue supports PostgreSQL and SQLite",
                    },
                })
            }
        };
        let now = to_millis(Utc::now());
        let token = new_lease_token();
        let rows = self
            .db
            .query_all_raw(self.statement(
                &sql,
                [
                    now.into(),
                    now.saturating_add(lease_millis(lease)).into(),
                    token.clone().into(),
                    sql_count(max).into(),
                ],
            ))
            .await
            .map_err(QueueError::database("claim jobs"))?;
        let mut jobs = rows
            .iter()
            .map(|row| {
                let id: String = get(row, "id")?;
                Ok(Job {
                    kind: get(row, "kind")?,
                    payload: payload(row, &id)?,
                    attempts: attempts(row, &id)?,
                    enqueued_at: from_millis(&id, get(row, "enqueued_at")?)?,
                    run_at: from_millis(&id, get(row, "due_at")?)?,
                    lease_token: token.clone(),
                    last_error: get(row, "last_error")?,
                    id,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        // RETURNING has no order; hand jobs out oldest due first like Redis.
        jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(jobs)
    }

    async fn extend_lease(&self, job: &Job, lease: Duration) -> Result<bool, QueueError> {
        let now = to_millis(Utc::now());
        let result = self
            .db
            .execute_raw(self.statement(
                EXTEND,
                [
                    job.id.clone().into(),
                    job.lease_token.clone().into(),
                    now.saturating_add(lease_millis(lease)).into(),
                    now.into(),
                ],
            ))
            .await
            .map_err(QueueError::database("extend a lease"))?;
        Ok(result.rows_affected() == 1)
    }

    async fn ack(&self, job: &Job) -> Result<(), QueueError> {
        self.settle(
            "ack a job",
            ACK,
            [job.id.clone().into(), job.lease_token.clone().into()],
            job,
        )
        .await
    }

    async fn retry_at(&self, job: &Job, at: DateTime<Utc>, error: &str) -> Result<(), QueueError> {
        let op = "schedule a retry";
        // The counter moves with the job, or neither does.
        let txn = self.db.begin().await.map_err(QueueError::database(op))?;
        let backend = txn.get_database_backend();
        let result = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                RETRY,
                [
                    job.id.clone().into(),
                    job.lease_token.clone().into(),
                    to_millis(at).into(),
                    error.into(),
                    to_millis(Utc::now()).into(),
                ],
            ))
            .await
            .map_err(QueueError::database(op))?;
        lease_held(result.rows_affected(), job)?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            COUNT_RETRY,
            [format!("{RETRY_COUNTER_PREFIX}{}", job.kind).into()],
        ))
        .await
        .map_err(QueueError::database(op))?;
        txn.commit().await.map_err(QueueError::database(op))
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<(), QueueError> {
        self.settle(
            "bury a job",
            BURY,
            [
                job.id.clone().into(),
                job.lease_token.clone().into(),
                error.into(),
                to_millis(Utc::now()).into(),
            ],
            job,
        )
        .await
    }

    async fn release(&self, job: &Job) -> Result<(), QueueError> {
        self.settle(
            "release a job",
            RELEASE,
            [
                job.id.clone().into(),
                job.lease_token.clone().into(),
                to_millis(Utc::now()).into(),
            ],
            job,
        )
        .await
    }

    async fn contains(&self, id: &str) -> Result<bool, QueueError> {
        let row = self
            .db
            .query_one_raw(self.statement(CONTAINS, [id.into()]))
            .await
            .map_err(QueueError::database("look up a job"))?;
        Ok(row.is_some())
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let op = "read queue stats";
        let now = to_millis(Utc::now());
        let rows = self
            .db
            .query_all_raw(self.statement(STATS, [now.into()]))
            .await
            .map_err(QueueError::database(op))?;
        let mut kinds = std::collections::BTreeMap::<String, KindStats>::new();
        for row in &rows {
            let oldest_due: Option<i64> = get(row, "oldest_due")?;
            kinds.insert(
                get(row, "kind")?,
                KindStats {
                    ready: count(row, "ready")?,
                    scheduled: count(row, "scheduled")?,
                    in_flight: count(row, "in_flight")?,
                    dead: count(row, "dead")?,
                    oldest_due_age_seconds: oldest_due.map(|due| age_seconds(now, due)),
                    retries_total: 0,
                },
            );
        }
        let counters = self
            .db
            .query_all_raw(self.statement(RETRY_COUNTERS, []))
            .await
            .map_err(QueueError::database(op))?;
        for row in &counters {
            let name: String = get(row, "name")?;
            if let Some(kind) = name.strip_prefix(RETRY_COUNTER_PREFIX) {
                kinds.entry(kind.to_owned()).or_default().retries_total = count(row, "value")?;
            }
        }
        Ok(QueueStats::from_kinds(kinds))
    }

    async fn dead(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let rows = self
            .db
            .query_all_raw(
                self.statement(DEAD, [sql_count(limit).into(), sql_count(offset).into()]),
            )
            .await
            .map_err(QueueError::database("list dead jobs"))?;
        rows.iter().map(dead_job).collect()
    }

    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        let row = self
            .db
            .query_one_raw(self.statement(DEAD_JOB, [id.into()]))
            .await
            .map_err(QueueError::database("read a dead job"))?;
        row.as_ref().map(dead_job).transpose()
    }

    async fn revive(&self, id: &str) -> Result<bool, QueueError> {
        let result = self
            .db
            .execute_raw(self.statement(REVIVE, [id.into(), to_millis(Utc::now()).into()]))
            .await
            .map_err(QueueError::database("revive a dead job"))?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_dead(&self, id: &str) -> Result<bool, QueueError> {
        let result = self
            .db
            .execute_raw(self.statement(DELETE_DEAD, [id.into()]))
            .await
            .map_err(QueueError::database("delete a dead job"))?;
        Ok(result.rows_affected() == 1)
    }
}

//! Jobs that stand for one ledger row (an application, a ticket delivery): the job id is
//! `kind:row`, so enqueueing is idempotent and the reconciler can restore what the
//! database says is unfinished.
use chrono::Utc;
use serde_json::json;
use workers::{Job, NewJob, Queue, QueueError};

#[derive(Debug, Clone, Copy)]
pub struct LedgerJob {
    pub kind: &'static str,
    /// The payload field that names the row.
    pub row_field: &'static str,
}

impl LedgerJob {
    pub fn job_id(self, row_id: i64) -> String {
        format!("{}:{row_id}", self.kind)
    }

    /// The row a job id names, if it is a job of this kind.
    pub fn row_of(self, job_id: &str) -> Option<i64> {
        job_id
            .strip_prefix(self.kind)?
            .strip_prefix(':')?
            .parse()
            .ok()
    }

    /// The row a claimed job is about.
    pub fn row_in(self, job: &Job) -> Option<i64> {
        job.payload[self.row_field].as_i64()
    }

    pub fn job(self, row_id: i64, run_at: chrono::DateTime<Utc>) -> NewJob {
        NewJob {
            id: self.job_id(row_id),
            kind: self.kind.to_owned(),
            payload: json!({ self.row_field: row_id }),
            run_at,
        }
    }

    /// Queues every row the queue does not hold yet (due now); returns how many it added.
    pub async fn requeue(
        self,
        queue: &dyn Queue,
        rows: impl IntoIterator<Item = i64>,
    ) -> Result<usize, QueueError> {
        let mut added = 0;
        for row in rows {
            if queue.enqueue(self.job(row, Utc::now())).await? {
                tracing::warn!(job = %self.job_id(row), "restored a job the queue did not hold");
                added += 1;
            }
        }
        Ok(added)
    }
}

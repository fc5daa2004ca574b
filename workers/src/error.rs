use std::fmt;

/// Everything that can go wrong talking to a queue backend.
#[derive(thiserror::Error)]
pub enum QueueError {
    #[error("redis failed to {op}")]
    Redis {
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("database failed to {op}")]
    Database {
        op: &'static str,
        #[source]
        source: sea_orm::DbErr,
    },
    #[error("payload of job `{id}` is not valid JSON")]
    Payload {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    /// The caller's lease is gone: it expired and another claim took the job,
    /// or the job was already settled (acked, retried, buried, released).
    #[error("lease on job `{id}` is no longer held by this worker")]
    LeaseLost { id: String },
    #[error("job `{id}` is stored in an unreadable form: {detail}")]
    Corrupt { id: String, detail: String },
}

impl QueueError {
    pub(crate) fn redis(op: &'static str) -> impl FnOnce(redis::RedisError) -> Self {
        move |source| Self::Redis { op, source }
    }

    pub(crate) fn database(op: &'static str) -> impl FnOnce(sea_orm::DbErr) -> Self {
        move |source| Self::Database { op, source }
    }

    pub(crate) fn corrupt(id: impl Into<String>, detail: impl fmt::Display) -> Self {
        Self::Corrupt {
            id: id.into(),
            detail: detail.to_string(),
        }
    }

    /// True when the worker lost its lease; nothing is wrong with the backend.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Self::LeaseLost { .. })
    }
}

// Debug prints the whole cause chain, so `{:?}` in logs and test failures
// shows the backend's own message and not only our context.
impl fmt::Debug for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{self}")?;
        let mut current = std::error::Error::source(self);
        while let Some(cause) = current {
            writeln!(f, "Caused by:\n\t{cause}")?;
            current = cause.source();
        }
        Ok(())
    }
}

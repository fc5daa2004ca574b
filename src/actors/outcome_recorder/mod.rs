//! OutcomeRecorder: impressions, outcomes and analysed cancellation reasons (with the
//! support tickets they open), group-committed. Writes that arrive while a transaction is in
//! flight wait in a batch and share the next transaction; each request is answered only once
//! its own rows are committed.
//!
//! The batch's rows are written by `batch` (one statement where it can, per database:
//! `postgres`, `sqlite`); the writes it takes are in `records`.
mod batch;
mod impression_rollups;
mod postgres;
mod records;
mod sqlite;

pub use records::{NewAssignment, NewImpression, NewOutcome, NewReason, OutcomeStatus, Record};

use crate::actors::guard;
use std::mem;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::oneshot;

use super::ticket_desk::OpenedTicket;
use super::{Failure, MAILBOX_CAPACITY};
use crate::store::database::WriteTurns;
use batch::write_batch;

/// Largest batch one transaction takes; more waits for the next.
const MAX_BATCH: usize = 512;

type Waiter = oneshot::Sender<Result<Option<OpenedTicket>, String>>;

pub struct OutcomeRecorder {
    db: DatabaseConnection,
    turns: WriteTurns,
    pending: Vec<(Record, DateTime<Utc>, Waiter)>,
    committing: usize,
    max_committing: usize,
    /// Dates the records (the service's clock, which tests move).
    clock: crate::clock::Clock,
}

impl OutcomeRecorder {
    /// `postgres_commits_in_flight`: how many batches may be committing at once on
    /// PostgreSQL (SQLite has one writer, so it gets one).
    pub fn new(
        db: DatabaseConnection,
        turns: WriteTurns,
        postgres_commits_in_flight: usize,
    ) -> Self {
        let max_committing = match db.get_database_backend() {
            DbBackend::Postgres => postgres_commits_in_flight.max(1),
            _ => 1,
        };
        OutcomeRecorder {
            db,
            turns,
            pending: Vec::new(),
            committing: 0,
            max_committing,
            clock: crate::clock::Clock::default(),
        }
    }

    /// Dates records by the service's clock (the one tests move) instead of one of its own.
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    fn commit_next_batch(&mut self, ctx: &mut Context<Self>) {
        if self.committing >= self.max_committing || self.pending.is_empty() {
            return;
        }
        self.committing += 1;
        let take = self.pending.len().min(MAX_BATCH);
        let rest = self.pending.split_off(take);
        let batch = mem::replace(&mut self.pending, rest);
        let db = self.db.clone();
        let turns = self.turns.clone();
        let work = async move {
            let (records, waiters): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|(record, at, waiter)| ((record, at), waiter))
                .unzip();
            let mut turn = turns.take().await;
            let written = write_batch(&db, &turns, turn.as_mut(), records).await;
            drop(turn);
            match written {
                Ok(tickets) => {
                    for (waiter, ticket) in waiters.into_iter().zip(tickets) {
                        // The requester may have gone away; its row is committed all the same.
                        let _ = waiter.send(Ok(ticket));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "group commit failed");
                    for waiter in waiters {
                        let _ = waiter.send(Err(e.to_string()));
                    }
                }
            }
        };
        let committed = fut::wrap_future(work).map(|_, act: &mut Self, ctx| {
            act.committing -= 1;
            act.commit_next_batch(ctx);
        });
        ctx.spawn(guard::recovering(committed, |act: &mut Self, ctx| {
            act.committing -= 1;
            act.commit_next_batch(ctx);
        }));
    }
}

impl Actor for OutcomeRecorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl Handler<Record> for OutcomeRecorder {
    type Result = ResponseFuture<Result<Option<OpenedTicket>, Failure>>;

    fn handle(&mut self, record: Record, ctx: &mut Self::Context) -> Self::Result {
        let (waiter, committed) = oneshot::channel();
        self.pending.push((record, self.clock.now(), waiter));
        self.commit_next_batch(ctx);
        guard(async move {
            match committed.await {
                Ok(Ok(ticket)) => Ok(ticket),
                Ok(Err(e)) => Err(Failure::Unexpected(anyhow::anyhow!(
                    "could not record the write: {e}"
                ))),
                Err(_) => Err(Failure::Unexpected(anyhow::anyhow!(
                    "the outcome recorder stopped before committing"
                ))),
            }
        })
    }
}

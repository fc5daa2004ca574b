//! The payment-health group commit: payment failures and success signals queue per end
//! user, share transactions in arrival order, and update the cached end user once committed.
mod statement;

use std::collections::HashSet;
use std::mem;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::end_user_cache::Known;
use super::{DunningTracker, EndUserState};
use crate::actors::{guard, Failure};
use crate::domain::{payment_event::is_payment_event, EndUserRef};
use statement::write_health;

/// Most payment-health writes one transaction takes.
const MAX_WRITE_BATCH: usize = 256;

/// A change to an end user's payment health.
pub(super) enum HealthWrite {
    Failure,
    Success { event: String },
}

impl HealthWrite {
    /// What the write does to the state the cancel flow reads (as `write_health` does to
    /// the row).
    fn apply(&self, state: &mut EndUserState) {
        match self {
            HealthWrite::Failure => state.show_update_card = true,
            HealthWrite::Success { event } => {
                state.show_onboarding_prompt = false;
                if is_payment_event(event) {
                    state.show_update_card = false;
                }
            }
        }
    }
}

/// A change waiting for the next group commit, for the end user it concerns.
pub(super) struct PendingWrite {
    organization_id: i64,
    user: Known,
    write: HealthWrite,
    /// The stored Stripe event this write applies: marked applied in the same commit.
    stripe_event: Option<i64>,
    waiter: oneshot::Sender<Result<(), String>>,
}

impl DunningTracker {
    /// After a committed write (`Some`) the cached end user, if any, takes the written state:
    /// the write sets absolute values, so the cached state with the write applied is the row.
    /// After a failed one (`None`) it is forgotten, to be read again. Either way, reads in
    /// flight may have seen the row before the write.
    fn written(&mut self, id: i64, write: Option<&HealthWrite>) {
        self.clock.changed(id);
        match write {
            Some(write) => self.users.update(id, |state| write.apply(state)),
            None => self.users.remove(id),
        }
    }

    /// Finds the end user, then queues the write for the next group commit; answers with
    /// the end user's id once it is committed.
    pub(super) fn identify_then_write(
        &mut self,
        organization_id: i64,
        who: EndUserRef,
        ctx: &mut Context<Self>,
        write: HealthWrite,
        stripe_event: Option<i64>,
    ) -> ResponseActFuture<Self, Result<i64, Failure>> {
        let found = self.identify(organization_id, who, ctx);
        guard::guard_act(
            fut::wrap_future(found).then(move |user, act: &mut Self, ctx| {
                let committed = user.map(|user| {
                    let (waiter, committed) = oneshot::channel();
                    let id = user.id;
                    act.pending_writes.push(PendingWrite {
                        organization_id,
                        write,
                        stripe_event,
                        user,
                        waiter,
                    });
                    act.commit_next_writes(ctx);
                    (id, committed)
                });
                fut::wrap_future(async move {
                    let (id, committed) = committed?;
                    match committed.await {
                        Ok(Ok(())) => Ok(id),
                        Ok(Err(e)) => Err(Failure::Unexpected(anyhow::anyhow!(
                            "could not record the payment event: {e}"
                        ))),
                        Err(_) => Err(Failure::Unexpected(anyhow::anyhow!(
                            "the dunning tracker stopped before committing"
                        ))),
                    }
                })
            }),
        )
    }

    /// Group commit: the writes that arrived while a transaction was in flight share the
    /// next one (in arrival order, so one end user's events apply in order). Each request is
    /// answered once its write is committed, after the tracker has forgotten the end user's
    /// cached state.
    fn commit_next_writes(&mut self, ctx: &mut Context<Self>) {
        if self.writing >= self.max_writing || self.pending_writes.is_empty() {
            return;
        }
        // In arrival order, one write per end user (the statements below are set-based),
        // skipping end users busy in the other transaction; a skipped end user's later writes
        // wait too, so that each end user's events apply in the order they arrived.
        let mut batch = Vec::new();
        let mut rest = Vec::new();
        let mut taken = HashSet::new();
        let mut skipped = HashSet::new();
        for pending in mem::take(&mut self.pending_writes) {
            let user = pending.user.id;
            if batch.len() < MAX_WRITE_BATCH
                && !self.busy_users.contains(&user)
                && !skipped.contains(&user)
                && taken.insert(user)
            {
                batch.push(pending);
            } else {
                skipped.insert(user);
                rest.push(pending);
            }
        }
        self.pending_writes = rest;
        if batch.is_empty() {
            return;
        }
        self.writing += 1;
        // Transactions in flight never share an end user, so their row locks cannot meet.
        self.busy_users.extend(taken);
        let db = self.db.clone();
        let turns = self.turns.clone();
        let origin = self.origin;
        let users: Vec<i64> = batch.iter().map(|pending| pending.user.id).collect();
        let work = async move {
            let result = write_health(&db, &turns, origin, &batch)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "payment health group commit failed");
                    e.to_string()
                });
            (batch, result)
        };
        ctx.spawn(guard::recovering(
            fut::wrap_future(work).map(|(batch, result), act: &mut Self, ctx| {
                act.writing -= 1;
                for pending in &batch {
                    act.busy_users.remove(&pending.user.id);
                }
                for pending in batch {
                    let write = result.is_ok().then_some(&pending.write);
                    act.written(pending.user.id, write);
                    let _ = pending.waiter.send(result.clone());
                }
                act.commit_next_writes(ctx);
            }),
            move |act: &mut Self, ctx| {
                // The batch's callers learn of it as their answers' channels close; what
                // it wrote, if anything, is read again.
                act.writing = act.writing.saturating_sub(1);
                for id in users {
                    act.busy_users.remove(&id);
                    act.written(id, None);
                }
                act.commit_next_writes(ctx);
            },
        ));
        // Another transaction may start beside this one.
        self.commit_next_writes(ctx);
    }
}

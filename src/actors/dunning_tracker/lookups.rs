//! Finding the end user a request names: from the cache while it is fresh, else through
//! batched lookups, whose end users seen for the first time or gaining an identifier go on
//! to the identity group commit.
use std::future::Future;
use std::mem;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::end_user_cache::Known;
use super::identities::{self, Identity};
use super::DunningTracker;
use crate::actors::{guard, Failure};
use crate::domain::EndUserRef;

/// Lookup queries in flight at once; more requests wait and share the next one. SQLite reads
/// on threads of its own beside the writer, so two overlap well; on PostgreSQL, where each
/// statement costs the server CPU, one in flight (bigger batches) measured 5–15 % faster.
pub(super) const SQLITE_LOOKUPS_IN_FLIGHT: usize = 2;
pub(super) const POSTGRES_LOOKUPS_IN_FLIGHT: usize = 1;
/// Most end users one lookup query asks for.
const MAX_LOOKUP_BATCH: usize = 64;

type LookupWaiter = oneshot::Sender<Result<Known, String>>;

pub(super) struct Lookup {
    organization_id: i64,
    who: EndUserRef,
    waiter: LookupWaiter,
}

impl DunningTracker {
    /// The end user `who` names, from memory while that is fresh.
    fn remembered(&self, organization_id: i64, who: &EndUserRef) -> Option<Known> {
        let known = self.users.find(organization_id, who)?;
        (known.known_at.elapsed() < self.trust()).then_some(known)
    }

    pub(super) fn remember(&mut self, organization_id: i64, row: &Identity) {
        self.users
            .insert(organization_id, row.known().state, row.identifiers());
    }

    /// Finds (or creates) the end user: from memory, else through a batched lookup.
    pub(super) fn identify(
        &mut self,
        organization_id: i64,
        who: EndUserRef,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<Known, Failure>> + 'static {
        let remembered = self.remembered(organization_id, &who);
        let pending = match remembered {
            Some(_) => None,
            None => {
                let (waiter, found) = oneshot::channel();
                self.waiting.push(Lookup {
                    organization_id,
                    who,
                    waiter,
                });
                self.start_lookups(ctx);
                Some(found)
            }
        };
        async move {
            match (remembered, pending) {
                (Some(known), _) => Ok(known),
                (None, Some(found)) => match found.await {
                    Ok(Ok(known)) => Ok(known),
                    Ok(Err(e)) => Err(Failure::Unexpected(anyhow::anyhow!(
                        "could not identify the end user: {e}"
                    ))),
                    Err(_) => Err(Failure::Unexpected(anyhow::anyhow!(
                        "the dunning tracker stopped before identifying the end user"
                    ))),
                },
                (None, None) => unreachable!("either remembered or looked up"),
            }
        }
    }

    /// Reads the end users the waiting lookups name, a batch per query, at most
    /// `max_lookups` queries in flight. Lookups their rows settle are answered at once; the
    /// rest (end users seen for the first time, or gaining an identifier) go on to be
    /// written without holding a lookup's place, so that the next batch's query overlaps
    /// their commit.
    fn start_lookups(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < self.max_lookups && !self.waiting.is_empty() {
            let take = self.waiting.len().min(MAX_LOOKUP_BATCH);
            let rest = self.waiting.split_off(take);
            let batch = mem::replace(&mut self.waiting, rest);
            self.in_flight += 1;
            let started = self.clock.read_started();
            let db = self.db.clone();
            let turns = self.turns.clone();
            let work = async move {
                let mut read = Vec::new();
                for (organization_id, lookups) in by_organization(batch) {
                    let who: Vec<&EndUserRef> = lookups.iter().map(|l| &l.who).collect();
                    let rows = identities::read_or_create(&db, &turns, organization_id, &who).await;
                    read.push((organization_id, lookups, rows));
                }
                read
            };
            ctx.spawn(guard::recovering(
                fut::wrap_future(work).map(move |read, act: &mut Self, ctx| {
                    act.in_flight -= 1;
                    for (organization_id, lookups, rows) in read {
                        let rows = match rows {
                            Ok(rows) => rows,
                            Err(e) => {
                                for lookup in lookups {
                                    let _ = lookup
                                        .waiter
                                        .send(Err(format!("looking up end users: {e}")));
                                }
                                continue;
                            }
                        };
                        let mut unsettled = Vec::new();
                        for lookup in lookups {
                            match identities::settled(&rows, &lookup.who) {
                                Some(row) => act.answer(lookup, Ok(row), started),
                                None => unsettled.push(lookup),
                            }
                        }
                        if !unsettled.is_empty() {
                            act.create_or_complete(organization_id, unsettled, rows, ctx);
                        }
                    }
                    act.clock.read_ended(started);
                    act.start_lookups(ctx);
                }),
                move |act: &mut Self, ctx| {
                    act.in_flight = act.in_flight.saturating_sub(1);
                    act.clock.read_ended(started);
                    act.start_lookups(ctx);
                },
            ));
        }
    }

    /// Queues lookups for the next identity write (see `identities::create_or_complete`):
    /// one is in flight at a time, so that the lookups that arrive meanwhile share the next
    /// (more rows per commit, as in the other group commits).
    fn create_or_complete(
        &mut self,
        organization_id: i64,
        lookups: Vec<Lookup>,
        rows: Vec<Identity>,
        ctx: &mut Context<Self>,
    ) {
        match self
            .unsettled
            .iter_mut()
            .find(|(org, ..)| *org == organization_id)
        {
            Some((_, waiting, read)) => {
                waiting.extend(lookups);
                read.extend(rows);
            }
            None => self.unsettled.push((organization_id, lookups, rows)),
        }
        self.write_next_identities(ctx);
    }

    fn write_next_identities(&mut self, ctx: &mut Context<Self>) {
        if self.writing_identities || self.unsettled.is_empty() {
            return;
        }
        self.writing_identities = true;
        let batch = mem::take(&mut self.unsettled);
        let started = self.clock.read_started();
        let db = self.db.clone();
        let turns = self.turns.clone();
        let work = async move {
            let mut answered = Vec::new();
            for (organization_id, lookups, rows) in batch {
                let who: Vec<&EndUserRef> = lookups.iter().map(|l| &l.who).collect();
                let results =
                    identities::create_or_complete(&db, &turns, organization_id, &who, rows).await;
                answered.extend(lookups.into_iter().zip(results));
            }
            answered
        };
        ctx.spawn(guard::recovering(
            fut::wrap_future(work).map(move |answered, act: &mut Self, ctx| {
                for (lookup, result) in answered {
                    act.answer(lookup, result, started);
                }
                act.clock.read_ended(started);
                act.writing_identities = false;
                act.write_next_identities(ctx);
            }),
            move |act: &mut Self, ctx| {
                act.clock.read_ended(started);
                act.writing_identities = false;
                act.write_next_identities(ctx);
            },
        ));
    }

    /// Answers a lookup with its row, remembering the row unless a change of its end user
    /// overlapped the read that found it (started at `started`).
    fn answer(&mut self, lookup: Lookup, result: Result<Identity, Failure>, started: u64) {
        let answer = match result {
            Ok(row) => {
                if self.clock.unchanged_since(started, row.id) {
                    self.remember(lookup.organization_id, &row);
                }
                Ok(row.known())
            }
            Err(e) => Err(format!("{e}")),
        };
        let _ = lookup.waiter.send(answer);
    }
}

fn by_organization(batch: Vec<Lookup>) -> Vec<(i64, Vec<Lookup>)> {
    let mut groups: Vec<(i64, Vec<Lookup>)> = Vec::new();
    for lookup in batch {
        match groups
            .iter_mut()
            .find(|(org, _)| *org == lookup.organization_id)
        {
            Some((_, group)) => group.push(lookup),
            None => groups.push((lookup.organization_id, vec![lookup])),
        }
    }
    groups
}

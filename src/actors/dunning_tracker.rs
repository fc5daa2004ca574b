//! DunningTracker: end users, their payment health (dunning) and success signals.
//!
//! Every cancel-flow request names an end user, so finding one is on the hot path. The
//! tracker keeps recently seen end users in memory (its own writes update them as they
//! commit; other instances' writes are announced to it and invalidate them as soon as it
//! hears them, see `end_user_changes`; while it cannot hear them, entries expire after the
//! cache TTL), and looks up the rest in batches: requests that arrive while lookups are in
//! flight share the next query, which also creates the end users seen for the first time
//! (`identities`). The cache is bounded by end users, and compact enough to
//! hold every end user of a large organization (`end_user_cache`).
mod end_user_cache;
mod identities;

use std::collections::HashSet;
use std::future::Future;
use std::mem;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::oneshot;

use super::{guard, Failure, MAILBOX_CAPACITY};
use crate::domain::{payment_event::is_payment_event, EndUserRef};
use crate::store::database::WriteTurns;
use crate::store::end_user_changes::{self, ChangeFeed};
use end_user_cache::{ChangeClock, EndUserCache, Known};
use identities::{newest_identities, Identity};

/// The end-user cache's bound unless `remembering` sets another.
const MAX_CACHED_USERS: usize = 1_000_000;
/// Lookup queries in flight at once; more requests wait and share the next one. SQLite reads
/// on threads of its own beside the writer, so two overlap well; on PostgreSQL, where each
/// statement costs the server CPU, one in flight (bigger batches) measured 5–15 % faster.
const SQLITE_LOOKUPS_IN_FLIGHT: usize = 2;
const POSTGRES_LOOKUPS_IN_FLIGHT: usize = 1;
/// Most end users one lookup query asks for.
const MAX_LOOKUP_BATCH: usize = 64;
/// Most payment-health writes one transaction takes.
const MAX_WRITE_BATCH: usize = 256;
/// End users one warm-up query reads. Small pages: the rows of a page are decoded on
/// SQLite's thread and freed on the actors' thread, and pages of 5,000 left the process
/// ~25 MB larger for good than pages of 500.
const WARM_UP_PAGE: usize = 500;

/// How an instance hears of other instances' changes to end users.
enum Notices {
    /// PostgreSQL's notifications, on a connection to this URL.
    Listen(String),
    /// SQLite's change log.
    ReadLog,
}

type LookupWaiter = oneshot::Sender<Result<Known, String>>;

struct Lookup {
    organization_id: i64,
    who: EndUserRef,
    waiter: LookupWaiter,
}

pub struct DunningTracker {
    db: DatabaseConnection,
    turns: WriteTurns,
    /// Names this tracker's announcements, so that it does not forget, on hearing them, the
    /// end users its own writes just updated.
    origin: u64,
    ttl: Duration,
    /// Where other instances' changes are heard from, and how long cached end users are
    /// trusted while they are.
    notices: Option<(Notices, Duration)>,
    /// Every change is announced to this tracker now.
    listening: bool,
    /// Stops the PostgreSQL listener when the tracker goes.
    _listener: Option<oneshot::Sender<()>>,
    /// SQLite: where the next read of the change log starts (None: it starts afresh), and
    /// whether a read is in flight.
    log_position: Option<i64>,
    reading_log: bool,
    users: EndUserCache,
    /// The most end users `users` holds; a warm-up reads the newest as many.
    capacity: usize,
    /// Bumped each time a warm-up starts; a warm-up stops when it is no longer the latest.
    warm_ups: u64,
    /// End users changed while reads were in flight: a read that overlapped a change of its
    /// end user does not fill the cache (it may have seen the row before the change).
    clock: ChangeClock,
    waiting: Vec<Lookup>,
    in_flight: usize,
    /// Lookups whose end user must be created or completed first, by organization, with the
    /// rows read for them; and whether a write of them is in flight.
    unsettled: Vec<(i64, Vec<Lookup>, Vec<Identity>)>,
    writing_identities: bool,
    max_lookups: usize,
    /// Payment-health writes waiting for the next transaction.
    pending_writes: Vec<PendingWrite>,
    /// Transactions of them in flight, and how many may be.
    writing: usize,
    max_writing: usize,
    /// End users with a write in a transaction in flight: their next writes wait for it,
    /// so that one end user's events apply in the order they arrived.
    busy_users: HashSet<i64>,
}

impl DunningTracker {
    /// `postgres_commits_in_flight`: how many payment-health transactions may be committing
    /// at once on PostgreSQL (they never share an end user; SQLite has one writer).
    pub fn with_ttl(
        db: DatabaseConnection,
        turns: WriteTurns,
        ttl: Duration,
        postgres_commits_in_flight: usize,
    ) -> Self {
        DunningTracker {
            turns,
            origin: rand::random(),
            ttl,
            notices: None,
            listening: false,
            _listener: None,
            log_position: None,
            reading_log: false,
            users: EndUserCache::new(MAX_CACHED_USERS),
            capacity: MAX_CACHED_USERS,
            warm_ups: 0,
            clock: ChangeClock::default(),
            waiting: Vec::new(),
            in_flight: 0,
            unsettled: Vec::new(),
            writing_identities: false,
            max_lookups: match db.get_database_backend() {
                DbBackend::Postgres => POSTGRES_LOOKUPS_IN_FLIGHT,
                _ => SQLITE_LOOKUPS_IN_FLIGHT,
            },
            pending_writes: Vec::new(),
            writing: 0,
            busy_users: HashSet::new(),
            max_writing: match db.get_database_backend() {
                DbBackend::Postgres => postgres_commits_in_flight.max(1),
                _ => 1,
            },
            db,
        }
    }

    /// Holds at most `capacity` end users in memory (about 43 bytes each once used).
    pub fn remembering(mut self, capacity: usize) -> Self {
        self.users = EndUserCache::new(capacity);
        self.capacity = capacity;
        self
    }

    /// Hears the end-user changes every instance announces (PostgreSQL: listening on a
    /// connection of its own, to `url`; SQLite: reading the change log), and while it does
    /// trusts cached end users for `trust` instead of the TTL. A `trust` of zero turns this
    /// off.
    pub fn announced_changes(mut self, url: String, trust: Duration) -> Self {
        if !trust.is_zero() {
            let notices = match self.db.get_database_backend() {
                DbBackend::Postgres => Notices::Listen(url),
                _ => Notices::ReadLog,
            };
            self.notices = Some((notices, trust));
        }
        self
    }

    /// How long a cached end user is trusted now.
    fn trust(&self) -> Duration {
        match &self.notices {
            Some((_, trust)) if self.listening => *trust,
            _ => self.ttl,
        }
    }

    /// SQLite: reads what other instances changed since the last read.
    fn read_change_log(&mut self, ctx: &mut Context<Self>) {
        if self.reading_log {
            return;
        }
        self.reading_log = true;
        let position = self.log_position;
        let db = self.db.clone();
        let read = async move {
            match position {
                Some(after) => end_user_changes::read_log(&db, after).await,
                None => Ok((
                    end_user_changes::log_end(&db).await?,
                    vec![ChangeFeed::Listening],
                )),
            }
        };
        ctx.spawn(guard::recovering(
            fut::wrap_future(read).map(|read, act: &mut Self, ctx| {
                act.reading_log = false;
                match read {
                    Ok((next, changes)) => {
                        act.log_position = Some(next);
                        for change in changes {
                            act.hear(change, ctx);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the end-user change log");
                        act.log_position = None;
                        act.hear(ChangeFeed::Lost, ctx);
                    }
                }
            }),
            |act: &mut Self, ctx| {
                act.reading_log = false;
                act.log_position = None;
                act.hear(ChangeFeed::Lost, ctx);
            },
        ));
    }

    fn hear(&mut self, change: ChangeFeed, ctx: &mut Context<Self>) {
        match change {
            ChangeFeed::Listening => {
                self.clock.all_changed();
                // Whatever changed while nobody listened is unknown: start afresh, from the
                // newest end users rather than from nothing.
                self.users.clear();
                self.listening = true;
                self.warm_ups += 1;
                self.warm_up(self.warm_ups, None, 0, ctx);
            }
            ChangeFeed::Lost => self.listening = false,
            // Its own announcements name changes it made: the cache already has them.
            ChangeFeed::Changed {
                origin: Some(origin),
                ..
            } if origin == self.origin => {}
            ChangeFeed::Changed { ids, .. } => {
                for id in ids {
                    self.clock.changed(id);
                    self.users.remove(id);
                }
            }
        }
    }

    /// Reads the newest end users into the cache, a page at a time, after `before` (None:
    /// from the newest), `loaded` of as many as the cache holds so far. Runs once this
    /// instance hears every change (every change after that reaches the cache), so that a
    /// restarted instance does not send its first requests' lookups to the database. A page read while a change
    /// was heard or written is dropped, as an overlapping lookup is; a newer warm-up, or
    /// losing the change feed, stops this one.
    fn warm_up(&mut self, run: u64, before: Option<i64>, loaded: usize, ctx: &mut Context<Self>) {
        let page = WARM_UP_PAGE.min(self.capacity.saturating_sub(loaded));
        if page == 0 {
            return;
        }
        let started = self.clock.read_started();
        let db = self.db.clone();
        let read = async move { newest_identities(&db, before, page).await };
        ctx.spawn(guard::recovering(
            fut::wrap_future(read).map(move |read, act: &mut Self, ctx| {
                let fresh: Vec<bool> = match &read {
                    Ok(rows) => rows
                        .iter()
                        .map(|row| act.clock.unchanged_since(started, row.id))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                act.clock.read_ended(started);
                if act.warm_ups != run || !act.listening {
                    return;
                }
                let rows = match read {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not warm the end-user cache");
                        return;
                    }
                };
                let (count, last) = (rows.len(), rows.last().map(|row| row.id));
                for (identity, _) in rows.iter().zip(&fresh).filter(|(_, &fresh)| fresh) {
                    act.remember(identity.organization_id, identity);
                }
                if count == page {
                    act.warm_up(run, last, loaded + count, ctx);
                }
            }),
            move |act: &mut Self, _| act.clock.read_ended(started),
        ));
    }

    /// The end user `who` names, from memory while that is fresh.
    fn remembered(&self, organization_id: i64, who: &EndUserRef) -> Option<Known> {
        let known = self.users.find(organization_id, who)?;
        (known.known_at.elapsed() < self.trust()).then_some(known)
    }

    fn remember(&mut self, organization_id: i64, row: &Identity) {
        self.users
            .insert(organization_id, row.known().state, row.identifiers());
    }

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

    /// Finds (or creates) the end user: from memory, else through a batched lookup.
    fn identify(
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

impl Actor for DunningTracker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        match &self.notices {
            Some((Notices::Listen(url), _)) => {
                self._listener = Some(end_user_changes::spawn_listener(
                    url.clone(),
                    ctx.address().recipient(),
                ));
            }
            Some((Notices::ReadLog, _)) => {
                self.read_change_log(ctx);
                ctx.run_interval(end_user_changes::LOG_POLL_INTERVAL, |act, ctx| {
                    act.read_change_log(ctx)
                });
                ctx.run_interval(end_user_changes::LOG_PRUNE_INTERVAL, |act, ctx| {
                    let db = act.db.clone();
                    let prune = fut::wrap_future(async move {
                        if let Err(e) = end_user_changes::prune_log(&db).await {
                            tracing::warn!(error = %e, "could not prune the end-user change log");
                        }
                    });
                    ctx.spawn(guard::recovering(prune, |_: &mut Self, _| {}));
                });
            }
            None => {}
        }
    }
}

impl Handler<ChangeFeed> for DunningTracker {
    type Result = ();

    fn handle(&mut self, msg: ChangeFeed, ctx: &mut Self::Context) {
        self.hear(msg, ctx);
    }
}

/// How many end users the cache holds now (for `/metrics`).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CachedEndUsers;

impl Handler<CachedEndUsers> for DunningTracker {
    type Result = usize;

    fn handle(&mut self, _: CachedEndUsers, _: &mut Self::Context) -> usize {
        self.users.entries()
    }
}

/// What the cancel flow needs to know about an end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndUserState {
    pub id: i64,
    /// Flagged by dunning and not yet recovered.
    pub show_update_card: bool,
    /// Never sent a success signal.
    pub show_onboarding_prompt: bool,
    /// Saveloops knows the end user's Stripe customer (so its subscription can be found).
    pub has_stripe_customer: bool,
}

/// Finds the end user a request names, creating it on first sight.
#[derive(Message)]
#[rtype(result = "Result<EndUserState, Failure>")]
pub struct Identify {
    pub organization_id: i64,
    pub who: EndUserRef,
}

impl Handler<Identify> for DunningTracker {
    type Result = ResponseFuture<Result<EndUserState, Failure>>;

    fn handle(&mut self, msg: Identify, ctx: &mut Self::Context) -> Self::Result {
        let found = self.identify(msg.organization_id, msg.who, ctx);
        guard::guard(async move { Ok(found.await?.state) })
    }
}

/// A failed payment: flag the end user for a card update.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordPaymentFailure {
    pub organization_id: i64,
    pub who: EndUserRef,
}

impl Handler<RecordPaymentFailure> for DunningTracker {
    type Result = ResponseActFuture<Self, Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordPaymentFailure, ctx: &mut Self::Context) -> Self::Result {
        self.identify_then_write(msg.organization_id, msg.who, ctx, HealthWrite::Failure)
    }
}

/// A positive event; a payment event also ends dunning.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordSuccess {
    pub organization_id: i64,
    pub who: EndUserRef,
    pub event: String,
}

impl Handler<RecordSuccess> for DunningTracker {
    type Result = ResponseActFuture<Self, Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordSuccess, ctx: &mut Self::Context) -> Self::Result {
        let write = HealthWrite::Success { event: msg.event };
        self.identify_then_write(msg.organization_id, msg.who, ctx, write)
    }
}

/// A change to an end user's payment health.
enum HealthWrite {
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
struct PendingWrite {
    organization_id: i64,
    user: Known,
    write: HealthWrite,
    waiter: oneshot::Sender<Result<(), String>>,
}

impl DunningTracker {
    /// Finds the end user, then queues the write for the next group commit; answers with
    /// the end user's id once it is committed.
    fn identify_then_write(
        &mut self,
        organization_id: i64,
        who: EndUserRef,
        ctx: &mut Context<Self>,
        write: HealthWrite,
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

/// Writes a batch of payment-health changes (at most one per end user) in one transaction,
/// as one statement of fixed text whatever the batch's size, the batch bound as arrays:
/// failures update their end users (which count the failures of an open dunning episode) and
/// open an episode when none is; successes update theirs and payments close the episodes with
/// the end users' counts; the change is announced.
#[tracing::instrument(skip_all, fields(rows = batch.len()))]
async fn write_health(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    origin: u64,
    batch: &[PendingWrite],
) -> Result<(), DbErr> {
    let changed: Vec<(i64, i64)> = batch
        .iter()
        .map(|pending| (pending.organization_id, pending.user.id))
        .collect();
    let announcements = end_user_changes::payloads(Some(origin), &changed);
    if db.get_database_backend() == DbBackend::Postgres {
        let pool = turns
            .group_commit_pool()
            .unwrap_or_else(|| db.get_postgres_connection_pool());
        let columns = HealthColumns::of(batch, announcements);
        return write_health_on_postgres(pool, columns, Utc::now()).await;
    }
    write_health_on_sqlite(db, turns, batch, announcements, Utc::now()).await
}

/// A batch of payment-health writes as the columns PostgreSQL's statement takes.
struct HealthColumns<'a> {
    failed_organizations: Vec<i64>,
    failed_users: Vec<i64>,
    succeeded_users: Vec<i64>,
    events: Vec<&'a str>,
    /// The end users among `succeeded_users` whose success is a payment (which ends dunning).
    paid_users: Vec<i64>,
    announcements: Vec<String>,
}

impl<'a> HealthColumns<'a> {
    fn of(batch: &'a [PendingWrite], announcements: Vec<String>) -> Self {
        let mut columns = HealthColumns {
            failed_organizations: Vec::new(),
            failed_users: Vec::new(),
            succeeded_users: Vec::new(),
            events: Vec::new(),
            paid_users: Vec::new(),
            announcements,
        };
        for pending in batch {
            match &pending.write {
                HealthWrite::Failure => {
                    columns.failed_organizations.push(pending.organization_id);
                    columns.failed_users.push(pending.user.id);
                }
                HealthWrite::Success { event } => {
                    columns.succeeded_users.push(pending.user.id);
                    columns.events.push(event.as_str());
                    if is_payment_event(event) {
                        columns.paid_users.push(pending.user.id);
                    }
                }
            }
        }
        columns
    }
}

/// SQLite: the whole batch as one statement of fixed text, an INSERT of its events into the
/// view `payment_health_events`, whose triggers apply them (migrations
/// `m20261130_000003_payment_health_events` and
/// `m20261130_000004_count_open_episodes_on_end_users`), the batch bound as one JSON array
/// that `jsonb_each` reads: it hands each event over as JSONB, which `->>` reads without
/// parsing (`json_each` handed over JSON text, parsed again by every `->>`). One statement is
/// one transaction, and the connection's thread hands back one result: as a script from
/// `BEGIN IMMEDIATE` to `COMMIT` it handed back one per statement, seven, each waking the
/// actors' thread, which on two busy cores mostly took the core from the writer at each
/// hand-off. The connection prepares the statement once and keeps it (built per batch with
/// its values inlined, it was parsed at every commit).
async fn write_health_on_sqlite(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[PendingWrite],
    announcements: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use serde_json::{json, Value};
    // Rows of (kind, organization, end user, event, payment, payload). A batch holds one
    // write per end user, so the order the triggers apply them in does not matter.
    let mut rows: Vec<Value> = batch
        .iter()
        .map(|pending| match &pending.write {
            HealthWrite::Failure => json!([
                "failure",
                pending.organization_id,
                pending.user.id,
                null,
                null,
                null
            ]),
            HealthWrite::Success { event } => json!([
                "success",
                null,
                pending.user.id,
                event,
                is_payment_event(event),
                null
            ]),
        })
        .collect();
    rows.extend(
        announcements
            .into_iter()
            .map(|payload| json!(["announcement", null, null, null, null, payload])),
    );
    let query = sea_orm::sqlx::query(
        "INSERT INTO payment_health_events \
             (kind, organization_id, end_user_id, event, payment, payload, at) \
         SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, \
             e.value ->> 5, ?1 \
         FROM jsonb_each(?2) AS e",
    )
    .bind(now)
    .bind(Value::Array(rows).to_string());
    crate::store::database::sqlite_transaction(db, turns, query).await
}

/// PostgreSQL: the whole batch as one statement whose text never changes (the batch travels
/// as arrays), so that each connection parses and plans it once; the same statements sent
/// as one simple query with their values inlined were parsed and planned at every commit,
/// a quarter of the server's CPU under a stream of payment failures. One statement is one
/// transaction. Its parts may share it because a batch holds one write per end user: no
/// row is changed by two of them. Each part finds its rows through `= ANY(ids)` on one
/// table, an index condition whatever the table's size when the plan was made (the plan is
/// kept for the connection's life, and the group-commit pool plans without sequential scans;
/// see `WriteTurns`), and joins nothing: a row's event is looked up in the arrays by its
/// position, and the counts a payment copies into its episode come from `paid` (read from
/// the same snapshot before the updates). The joins with the arrays these replace
/// left the join order to the planner, and one of its orders, the arrays outside and
/// `= ANY(ids)` beside the join key inside, runs the whole array's index descents once per
/// row (PostgreSQL 15 does not fold `= x AND = ANY(ids)` on one column).
async fn write_health_on_postgres(
    pool: &sea_orm::sqlx::PgPool,
    columns: HealthColumns<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    sea_orm::sqlx::query(
        // Failures are counted in the statement, so that those recorded by other instances
        // all count. A failure opens a dunning episode; while it is open, the end user's row
        // counts its failures (the episode's row is not written again, one row version and
        // its WAL less per failure). A payment success ends dunning and closes the open
        // episode with the end user's counts as they stood before it (every part of the
        // statement reads the same snapshot, `paid` among them).
        "WITH failed AS ( \
             UPDATE end_users SET needs_payment_update = TRUE, \
                 payment_failures = payment_failures + 1, \
                 first_failed_at = COALESCE(first_failed_at, $1), last_failed_at = $1, \
                 updated_at = $1 \
             WHERE id = ANY($3::bigint[]) \
         ), episodes AS ( \
             INSERT INTO dunning_episodes \
                 (organization_id, end_user_id, started_at, last_failed_at, failures) \
             SELECT organization_id, end_user_id, $1, $1, 1 \
             FROM UNNEST($2::bigint[], $3::bigint[]) AS f(organization_id, end_user_id) \
             ON CONFLICT (end_user_id) WHERE recovered_at IS NULL DO NOTHING \
         ), succeeded AS ( \
             UPDATE end_users AS u SET last_success_at = $1, \
                 last_success_event = ($5::text[])[array_position($4::bigint[], u.id)], \
                 updated_at = $1, \
                 needs_payment_update = \
                     u.needs_payment_update AND NOT (u.id = ANY($6::bigint[])), \
                 payment_failures = CASE WHEN u.id = ANY($6::bigint[]) THEN 0 \
                     ELSE u.payment_failures END, \
                 first_failed_at = CASE WHEN u.id = ANY($6::bigint[]) THEN NULL \
                     ELSE u.first_failed_at END \
             WHERE u.id = ANY($4::bigint[]) \
         ), paid AS MATERIALIZED ( \
             SELECT id, payment_failures, last_failed_at FROM end_users \
             WHERE id = ANY($6::bigint[]) \
         ), recovered AS ( \
             UPDATE dunning_episodes AS d SET recovered_at = $1, \
                 recovery_event = ($5::text[])[array_position($4::bigint[], d.end_user_id)], \
                 failures = GREATEST(d.failures, \
                     (SELECT p.payment_failures FROM paid p WHERE p.id = d.end_user_id)), \
                 last_failed_at = COALESCE( \
                     (SELECT p.last_failed_at FROM paid p WHERE p.id = d.end_user_id), \
                     d.last_failed_at) \
             WHERE d.end_user_id = ANY($6::bigint[]) AND d.recovered_at IS NULL \
         ) \
         SELECT pg_notify($7, payload) FROM UNNEST($8::text[]) AS payload",
    )
    .bind(now)
    .bind(columns.failed_organizations)
    .bind(columns.failed_users)
    .bind(columns.succeeded_users)
    .bind(columns.events)
    .bind(columns.paid_users)
    .bind(end_user_changes::CHANNEL)
    .bind(columns.announcements)
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(crate::store::database::sqlx_failure)
}

//! The DunningTracker actor: its state, how it is built and started, and the messages it
//! answers about end users, their payment health (dunning) and success signals.
//!
//! Every cancel-flow request names an end user, so finding one is on the hot path. The
//! tracker keeps recently seen end users in memory (its own writes update them as they
//! commit; other instances' writes are announced to it and invalidate them as soon as it
//! hears them, see `change_feed`; while it cannot hear them, entries expire after the
//! cache TTL), and looks up the rest in batches (`lookups`): requests that arrive while
//! lookups are in flight share the next query, which also creates the end users seen for the
//! first time (`identities`). The cache is bounded by end users, and compact enough to
//! hold every end user of a large organization (`end_user_cache`). Payment failures and
//! successes are written in group commits (`payment_health`).
mod change_clock;
mod change_feed;
mod end_user_cache;
mod identities;
mod lookups;
mod payment_health;

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::oneshot;

use super::{guard, Failure, MAILBOX_CAPACITY};
use crate::domain::EndUserRef;
use crate::store::database::WriteTurns;
use crate::store::end_user_changes::{self, ChangeFeed};
use change_clock::ChangeClock;
use change_feed::Notices;
use end_user_cache::EndUserCache;
use identities::Identity;
use lookups::{Lookup, POSTGRES_LOOKUPS_IN_FLIGHT, SQLITE_LOOKUPS_IN_FLIGHT};
use payment_health::{HealthWrite, PendingWrite};

/// The end-user cache's bound unless `remembering` sets another.
const MAX_CACHED_USERS: usize = 1_000_000;

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
        guard(async move { Ok(found.await?.state) })
    }
}

/// A failed payment: flag the end user for a card update.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordPaymentFailure {
    pub organization_id: i64,
    pub who: EndUserRef,
    /// The stored Stripe event this failure comes from, marked applied in the same commit
    /// (exactly once, whatever crashes).
    pub stripe_event: Option<i64>,
}

impl Handler<RecordPaymentFailure> for DunningTracker {
    type Result = ResponseActFuture<Self, Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordPaymentFailure, ctx: &mut Self::Context) -> Self::Result {
        let RecordPaymentFailure {
            organization_id,
            who,
            stripe_event,
        } = msg;
        self.identify_then_write(
            organization_id,
            who,
            ctx,
            HealthWrite::Failure,
            stripe_event,
        )
    }
}

/// A positive event; a payment event also ends dunning.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordSuccess {
    pub organization_id: i64,
    pub who: EndUserRef,
    pub event: String,
    /// As `RecordPaymentFailure`'s.
    pub stripe_event: Option<i64>,
}

impl Handler<RecordSuccess> for DunningTracker {
    type Result = ResponseActFuture<Self, Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordSuccess, ctx: &mut Self::Context) -> Self::Result {
        let write = HealthWrite::Success { event: msg.event };
        self.identify_then_write(msg.organization_id, msg.who, ctx, write, msg.stripe_event)
    }
}

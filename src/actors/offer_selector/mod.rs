//! OfferSelector: an organization's offers, experiments and settings, cached, and which
//! offers fit a cancel-flow context (placement, experiment arm, eligibility). Offers,
//! experiments and settings are managed through it too, so this process's cache is always
//! current; changes made by other instances are picked up after the cache TTL.
//!
//! This file holds the actor and its catalog cache (TTL, one load per organization at a
//! time); each message it answers lives with its concern in a submodule.
mod application;
mod catalog;
mod eligibility;
mod experiments;
mod intercept;
mod offers;
mod outcomes;
mod settings;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;
use sea_orm::DatabaseConnection;
use tokio::sync::oneshot;

use super::dunning_tracker::DunningTracker;
use super::outcome_recorder::OutcomeRecorder;
use super::{Failure, MAILBOX_CAPACITY};
use catalog::{load_catalog, Catalog};

pub use application::{ApplicationCheck, CheckApplication, FindOffer};
pub use catalog::{CatalogData, CatalogOffer};
pub use experiments::ManageExperiments;
pub use intercept::{Intercept, InterceptAnswer, OffersOfTypes};
pub use offers::ManageOffers;
pub use outcomes::RecordOutcome;
pub use settings::{ManageSettings, OriginAllowed};

/// Requests waiting for a catalog load in flight.
type CatalogWaiters = Rc<RefCell<Vec<oneshot::Sender<Result<Catalog, String>>>>>;

pub struct OfferSelector {
    db: DatabaseConnection,
    ttl: Duration,
    catalogs: HashMap<i64, (Catalog, Instant)>,
    /// One load per organization at a time: requests that find the catalog stale while it
    /// is being loaded wait for that load instead of each starting their own.
    loading: HashMap<i64, CatalogWaiters>,
    dunning: Addr<DunningTracker>,
    recorder: Addr<OutcomeRecorder>,
    /// Dates experiment results' save validation (tests move it).
    clock: crate::clock::Clock,
}

impl OfferSelector {
    pub fn new(
        db: DatabaseConnection,
        ttl: Duration,
        dunning: Addr<DunningTracker>,
        recorder: Addr<OutcomeRecorder>,
    ) -> Self {
        OfferSelector {
            db,
            ttl,
            catalogs: HashMap::new(),
            loading: HashMap::new(),
            dunning,
            recorder,
            clock: crate::clock::Clock::default(),
        }
    }

    /// Uses the service's clock (the one tests move) instead of one of its own.
    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The organization's catalog, from memory when fresh.
    fn catalog(
        &mut self,
        organization_id: i64,
    ) -> LocalBoxActorFuture<Self, Result<Catalog, Failure>> {
        if let Some((catalog, loaded_at)) = self.catalogs.get(&organization_id) {
            if loaded_at.elapsed() < self.ttl {
                return fut::ready(Ok(catalog.clone())).boxed_local();
            }
        }
        if let Some(waiters) = self.loading.get(&organization_id) {
            let (waiter, loaded) = oneshot::channel();
            waiters.borrow_mut().push(waiter);
            return fut::wrap_future(async move {
                match loaded.await {
                    Ok(Ok(catalog)) => Ok(catalog),
                    Ok(Err(e)) => Err(Failure::Unexpected(anyhow::anyhow!(
                        "loading the offers failed: {e}"
                    ))),
                    Err(_) => Err(Failure::Unexpected(anyhow::anyhow!(
                        "the offer selector stopped while loading the offers"
                    ))),
                }
            })
            .boxed_local();
        }
        let waiters = CatalogWaiters::default();
        self.loading.insert(organization_id, waiters.clone());
        let db = self.db.clone();
        fut::wrap_future(load_catalog(db, organization_id))
            .map(move |loaded, act: &mut Self, _| {
                // A change made through this process while loading replaced (or removed)
                // this load: its result then answers only the requests that joined it.
                let current = act
                    .loading
                    .get(&organization_id)
                    .is_some_and(|w| Rc::ptr_eq(w, &waiters));
                if current {
                    act.loading.remove(&organization_id);
                }
                let shared = loaded.as_ref().map(Arc::clone).map_err(|e| e.to_string());
                for waiter in waiters.borrow_mut().drain(..) {
                    let _ = waiter.send(shared.clone());
                }
                let catalog = loaded?;
                if current {
                    act.catalogs
                        .insert(organization_id, (catalog.clone(), Instant::now()));
                }
                Ok(catalog)
            })
            .boxed_local()
    }

    /// After a change: the catalog is loaded again on next use.
    fn forget_catalog(&mut self, organization_id: i64) {
        self.catalogs.remove(&organization_id);
        self.loading.remove(&organization_id);
    }
}

impl Actor for OfferSelector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

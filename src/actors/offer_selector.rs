//! OfferSelector: an organization's offers, experiments and settings, cached, and which
//! offers fit a cancel-flow context (placement, experiment arm, eligibility). Offers,
//! experiments and settings are managed through it too, so this process's cache is always
//! current; changes made by other instances are picked up after the cache TTL.
use crate::actors::guard_act;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::Request;
use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;
use chrono::Utc;
use entity::{experiment, offer, offer_application, organization_setting, outcome};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{json, Map, Value};
use tokio::sync::oneshot;

use super::dunning_tracker::{DunningTracker, EndUserState, Identify};
use super::outcome_recorder::{NewAssignment, NewImpression, OutcomeRecorder, Record};
use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::eligibility::{self, Facts, Ineligible, OfferRules, OrgSettings, Rules};
use crate::domain::experiment::ExperimentStatus;
use crate::domain::experiment_draft::{
    self, parse_experiment, FrozenArms, OfferCheck, OfferProblem, DRAFT_ONLY,
};
use crate::domain::offer::{number_json, Placement};
use crate::domain::offer_draft::{as_body, merge_patch, mrr_json, parse_offer, OfferDraft};
use crate::domain::settings_draft::{parse_settings, settings_json};
use crate::domain::validation::ValidationErrors;
use crate::domain::{EndUserRef, Mrr, OfferType, Trigger};
use crate::store::experiments::{self, CatalogExperiment, Exposure, Promotion};

/// An offer as the selector keeps it in memory. The offers API's and intercept's JSON are
/// built when asked (intercept's as text, once): a catalog of 1,000 offers holding both as
/// JSON values took ~7 MB.
#[derive(Debug, Clone)]
pub struct CatalogOffer {
    pub id: i64,
    pub kind: OfferType,
    pub value: f64,
    pub config: Value,
    pub placement: Placement,
    pub active: bool,
    pub rules: OfferRules,
    /// The offer as intercept shows it, as JSON text up to (not including) its last field,
    /// `experiment`: intercept writes its answer from these without building JSON values.
    shown_head: String,
    row: offer::Model,
}

fn stored_rule(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

impl CatalogOffer {
    fn from_row(row: offer::Model) -> Result<CatalogOffer, Failure> {
        let kind = OfferType::parse(&row.kind)
            .ok_or_else(|| anyhow::anyhow!("offer {} has unknown type {}", row.id, row.kind))?;
        let config: Value = serde_json::from_str(&row.config)
            .map_err(|e| anyhow::anyhow!("offer {} has unreadable config: {e}", row.id))?;
        let trigger_names: Vec<String> = serde_json::from_str(&row.triggers)
            .map_err(|e| anyhow::anyhow!("offer {} has unreadable triggers: {e}", row.id))?;
        let placement = Placement {
            target_id: row.target_id.clone(),
            triggers: trigger_names
                .iter()
                .filter_map(|t| Trigger::parse(t))
                .collect(),
            min_mrr: row.min_mrr_e4.map(Mrr::from_storage),
            max_mrr: row.max_mrr_e4.map(Mrr::from_storage),
        };
        let rules = OfferRules {
            cooldown_days: stored_rule(row.cooldown_days),
            type_cooldown_days: stored_rule(row.type_cooldown_days),
            max_redemptions: stored_rule(row.max_redemptions),
            max_redemptions_per_user: stored_rule(row.max_redemptions_per_user),
            requires_subscription: row.requires_subscription,
        };
        let mut offer = CatalogOffer {
            id: row.id,
            kind,
            value: row.value,
            config,
            placement,
            active: row.active,
            rules,
            shown_head: String::new(),
            row,
        };
        let mut shown_head = offer.shown().to_string();
        debug_assert!(shown_head.ends_with('}'));
        shown_head.pop();
        offer.shown_head = shown_head;
        Ok(offer)
    }

    /// The offer as the offers API shows it.
    pub fn resource(&self) -> Value {
        let row = &self.row;
        // Read once already, when the catalog was loaded.
        let triggers: Vec<String> = serde_json::from_str(&row.triggers).unwrap_or_default();
        json!({
            "id": row.id,
            "type": row.kind,
            "value": number_json(row.value),
            "label": row.label,
            "config": self.config,
            "target_id": row.target_id,
            "triggers": triggers,
            "min_mrr": mrr_json(self.placement.min_mrr),
            "max_mrr": mrr_json(self.placement.max_mrr),
            "priority": row.priority,
            "active": row.active,
            "cooldown_days": self.rules.cooldown_days,
            "type_cooldown_days": self.rules.type_cooldown_days,
            "max_redemptions": self.rules.max_redemptions,
            "max_redemptions_per_user": self.rules.max_redemptions_per_user,
            "requires_subscription": self.rules.requires_subscription,
            "created_at": row.created_at.to_rfc3339(),
            "updated_at": row.updated_at.to_rfc3339(),
        })
    }

    /// Appends the offer as intercept shows it (JSON text), with its experiment tag (JSON
    /// text, `null` when none).
    fn write_shown(&self, out: &mut String, experiment: &str) {
        out.push_str(&self.shown_head);
        out.push_str(r#","experiment":"#);
        out.push_str(experiment);
        out.push('}');
    }

    /// The offer as intercept shows it, but for the experiment it came from (`write_shown`
    /// adds that last).
    fn shown(&self) -> Value {
        json!({
            "id": self.row.id,
            "type": self.row.kind,
            "value": number_json(self.row.value),
            "label": self.row.label,
            "config": self.config,
        })
    }
}

/// The offers as intercept and sentiment show them: a JSON array (text), written around
/// each offer's text rendered once per catalog load rather than rebuilt as values.
fn shown_list(offers: &[&CatalogOffer], experiment: Option<&Value>) -> String {
    let tag = experiment.map_or_else(|| "null".to_owned(), Value::to_string);
    let mut list = String::with_capacity(
        2 + offers
            .iter()
            .map(|o| o.shown_head.len() + 20 + tag.len())
            .sum::<usize>(),
    );
    list.push('[');
    for (n, offer) in offers.iter().enumerate() {
        if n > 0 {
            list.push(',');
        }
        offer.write_shown(&mut list, &tag);
    }
    list.push(']');
    list
}

/// One organization's offers (highest priority first, then oldest first), experiments and
/// settings.
#[derive(Debug, Default)]
pub struct CatalogData {
    pub offers: Vec<CatalogOffer>,
    pub experiments: Vec<CatalogExperiment>,
    pub settings: OrgSettings,
    positions: HashMap<i64, usize>,
    /// Positions of the active offers, by target, and of those with no target (which fit
    /// every target), in catalog order: intercept looks only at the offers that can fit
    /// its page, however many other pages the organization has offers for.
    active_by_target: HashMap<String, Vec<usize>>,
    active_untargeted: Vec<usize>,
}

impl CatalogData {
    pub fn offer(&self, id: i64) -> Option<&CatalogOffer> {
        self.positions.get(&id).map(|i| &self.offers[*i])
    }

    pub fn experiment(&self, id: i64) -> Option<&CatalogExperiment> {
        self.experiments.iter().find(|e| e.id == id)
    }

    fn new(
        offers: Vec<CatalogOffer>,
        experiments: Vec<CatalogExperiment>,
        settings: OrgSettings,
    ) -> Self {
        let positions = offers.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        let mut active_by_target: HashMap<String, Vec<usize>> = HashMap::new();
        let mut active_untargeted = Vec::new();
        for (i, offer) in offers.iter().enumerate().filter(|(_, o)| o.active) {
            match &offer.placement.target_id {
                Some(target) => active_by_target.entry(target.clone()).or_default().push(i),
                None => active_untargeted.push(i),
            }
        }
        CatalogData {
            offers,
            experiments,
            settings,
            positions,
            active_by_target,
            active_untargeted,
        }
    }

    /// Positions of the active offers that may show on `target_id`, in catalog order.
    fn active_on(&self, target_id: &str) -> Vec<usize> {
        let own = self
            .active_by_target
            .get(target_id)
            .map_or(&[][..], Vec::as_slice);
        let mut merged = [own, &self.active_untargeted].concat();
        merged.sort_unstable();
        merged
    }

    fn kind_of(&self, offer_id: i64) -> Option<OfferType> {
        self.offer(offer_id).map(|o| o.kind)
    }

    /// The running experiment an offer is in, with its arm (an offer is in at most one
    /// running experiment, and in one arm of it).
    fn running_with_offer(&self, offer_id: i64) -> Option<(&CatalogExperiment, usize)> {
        self.experiments
            .iter()
            .filter(|e| e.is_running())
            .find_map(|e| e.arm_of_offer(offer_id).map(|arm| (e, arm)))
    }

    /// Draft or running experiments that use an offer.
    fn live_experiment_with_offer(&self, offer_id: i64) -> Option<&CatalogExperiment> {
        self.experiments
            .iter()
            .filter(|e| e.status != ExperimentStatus::Stopped)
            .find(|e| e.arm_of_offer(offer_id).is_some())
    }
}

impl OfferCheck for CatalogData {
    fn check(&self, offer_id: i64, target_id: Option<&str>) -> Result<(), OfferProblem> {
        let offer = self.offer(offer_id).ok_or(OfferProblem::Unknown)?;
        match (&offer.placement.target_id, target_id) {
            (Some(own), Some(wanted)) if own != wanted => {
                Err(OfferProblem::OtherTarget(own.clone()))
            }
            _ => Ok(()),
        }
    }
}

type Catalog = Arc<CatalogData>;

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
        }
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

#[tracing::instrument(skip(db))]
async fn load_catalog(db: DatabaseConnection, organization_id: i64) -> Result<Catalog, Failure> {
    let offers = offer::Entity::find()
        .filter(offer::Column::OrganizationId.eq(organization_id))
        .order_by_desc(offer::Column::Priority)
        .order_by_asc(offer::Column::Id)
        .all(&db);
    let experiments = experiment::Entity::find()
        .filter(experiment::Column::OrganizationId.eq(organization_id))
        .order_by_asc(experiment::Column::Id)
        .all(&db);
    let settings = organization_setting::Entity::find_by_id(organization_id).one(&db);
    let (offers, experiments, settings) =
        futures_util::future::try_join3(offers, experiments, settings).await?;
    let offers = offers
        .into_iter()
        .map(CatalogOffer::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let experiments = experiments
        .into_iter()
        .map(CatalogExperiment::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(CatalogData::new(
        offers,
        experiments,
        settings.map(settings_from_row).unwrap_or_default(),
    )))
}

fn settings_from_row(row: organization_setting::Model) -> OrgSettings {
    OrgSettings {
        offer_cooldown_days: stored_rule(row.offer_cooldown_days),
        type_cooldown_days: stored_rule(row.type_cooldown_days),
        max_redemptions_per_user: stored_rule(row.max_redemptions_per_user),
        require_subscription_for_changes: row.require_subscription_for_changes,
        experiment_confidence: row.experiment_confidence,
        experiment_min_sample_size: stored_rule(Some(row.experiment_min_sample_size))
            .unwrap_or(eligibility::DEFAULT_MIN_SAMPLE_SIZE),
    }
}

/// Checks the eligibility of the candidate offers (positions in the catalog). The end
/// user's acceptances and offers' totals are read only when some candidate has a rule that
/// needs them, through indexed queries.
async fn check_offers(
    db: &DatabaseConnection,
    catalog: &CatalogData,
    organization_id: i64,
    candidates: &[usize],
    end_user_id: Option<i64>,
    subscription_known: bool,
) -> Result<Vec<Result<(), Ineligible>>, Failure> {
    let rules: Vec<Rules> = candidates
        .iter()
        .map(|&i| {
            let o = &catalog.offers[i];
            Rules::resolve(&o.rules, &catalog.settings, o.kind)
        })
        .collect();
    let history_for = end_user_id.filter(|_| rules.iter().any(Rules::needs_history));
    let capped: Vec<i64> = candidates
        .iter()
        .zip(&rules)
        .filter(|(_, r)| r.needs_total())
        .map(|(&i, _)| catalog.offers[i].id)
        .collect();
    let history = async {
        match history_for {
            Some(user) => crate::store::eligibility::history(db, organization_id, user, |id| {
                catalog.kind_of(id)
            })
            .await
            .map(Some),
            None => Ok(None),
        }
    };
    let totals = async {
        if capped.is_empty() {
            Ok(HashMap::new())
        } else {
            crate::store::eligibility::totals(db, &capped).await
        }
    };
    let (history, totals) = futures_util::future::try_join(history, totals).await?;
    let now = Utc::now();
    Ok(candidates
        .iter()
        .zip(&rules)
        .map(|(&i, rules)| {
            let o = &catalog.offers[i];
            eligibility::check(
                o.id,
                o.kind,
                rules,
                Facts {
                    now,
                    history: history.as_deref(),
                    total: totals.get(&o.id).copied().unwrap_or(0),
                    subscription_known,
                },
            )
        })
        .collect())
}

async fn identify(
    request: Option<Request<DunningTracker, Identify>>,
) -> Result<Option<EndUserState>, Failure> {
    match request {
        Some(request) => {
            Ok(Some(request.await.map_err(|e| {
                anyhow::anyhow!("dunning tracker unavailable: {e}")
            })??))
        }
        None => Ok(None),
    }
}

impl Actor for OfferSelector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// A cancel or exit intent.
#[derive(Message)]
#[rtype(result = "Result<InterceptAnswer, Failure>")]
pub struct Intercept {
    pub organization_id: i64,
    pub target_id: String,
    pub trigger: Option<Trigger>,
    pub mrr: Option<Mrr>,
    pub who: Option<EndUserRef>,
    /// The request names a subscription or a Stripe customer.
    pub subscription_known: bool,
}

#[derive(Debug, Clone)]
pub struct InterceptAnswer {
    /// The offers shown, as a JSON array (text).
    pub offers: String,
    pub show_update_card: bool,
    pub show_onboarding_prompt: bool,
}

impl Handler<Intercept> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<InterceptAnswer, Failure>>;

    fn handle(&mut self, msg: Intercept, _: &mut Self::Context) -> Self::Result {
        // Identifying the end user runs while the offers are picked.
        let identifying = msg.who.clone().map(|who| {
            self.dunning.send(Identify {
                organization_id: msg.organization_id,
                who,
            })
        });
        let recorder = self.recorder.clone();
        let db = self.db.clone();
        guard_act(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        let user = identify(identifying).await?;
                        let fits = |o: &CatalogOffer| {
                            o.placement.fits(&msg.target_id, msg.trigger, msg.mrr)
                        };
                        // A running experiment on this target replaces the normal offers
                        // with the assigned arm's (shown whether or not they are active).
                        let experiment = catalog
                            .experiments
                            .iter()
                            .find(|e| e.applies_to(&msg.target_id, msg.trigger));
                        let (exposure, tag, candidates): (
                            Option<Exposure>,
                            Option<Value>,
                            Vec<usize>,
                        ) = match experiment {
                            Some(e) => {
                                let arm = e.assign(user.map(|u| u.id));
                                let offers = e.arms[arm]
                                    .offer_ids
                                    .iter()
                                    .filter_map(|id| catalog.positions.get(id).copied())
                                    .filter(|&i| fits(&catalog.offers[i]))
                                    .collect();
                                (Some(e.exposure(arm)), Some(e.tag(arm)), offers)
                            }
                            None => {
                                let mut offers = catalog.active_on(&msg.target_id);
                                offers.retain(|&i| fits(&catalog.offers[i]));
                                (None, None, offers)
                            }
                        };
                        let subscription_known =
                            msg.subscription_known || user.is_some_and(|u| u.has_stripe_customer);
                        let verdicts = check_offers(
                            &db,
                            &catalog,
                            msg.organization_id,
                            &candidates,
                            user.map(|u| u.id),
                            subscription_known,
                        )
                        .await?;
                        let chosen: Vec<&CatalogOffer> = candidates
                            .iter()
                            .zip(&verdicts)
                            .filter(|(_, v)| v.is_ok())
                            .map(|(&i, _)| &catalog.offers[i])
                            .collect();
                        recorder
                            .send(Record::Impression(NewImpression {
                                organization_id: msg.organization_id,
                                end_user_id: user.map(|u| u.id),
                                target_id: msg.target_id,
                                trigger: msg.trigger.map(|t| t.as_str().to_owned()),
                                mrr_e4: msg.mrr.map(Mrr::to_storage),
                                offer_ids: chosen.iter().map(|o| o.id).collect(),
                                exposure,
                            }))
                            .await
                            .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))??;
                        Ok(InterceptAnswer {
                            offers: shown_list(&chosen, tag.as_ref()),
                            show_update_card: user.is_some_and(|u| u.show_update_card),
                            show_onboarding_prompt: user.is_some_and(|u| u.show_onboarding_prompt),
                        })
                    })
                }),
        )
    }
}

/// One offer of the organization, active or not (None when it has no such offer).
#[derive(Message)]
#[rtype(result = "Result<Option<CatalogOffer>, Failure>")]
pub struct FindOffer {
    pub organization_id: i64,
    pub offer_id: i64,
}

impl Handler<FindOffer> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Option<CatalogOffer>, Failure>>;

    fn handle(&mut self, msg: FindOffer, _: &mut Self::Context) -> Self::Result {
        guard_act(
            self.catalog(msg.organization_id)
                .map(move |catalog, _, _| Ok(catalog?.offer(msg.offer_id).cloned())),
        )
    }
}

/// Active offers of the given types, optionally for one target (sentiment's suggestions).
/// With `who`, the end user's eligibility applies, and a running experiment on the target
/// (one not limited to a trigger) supplies the end user's arm instead.
#[derive(Message, Default)]
#[rtype(result = "Result<String, Failure>")]
pub struct OffersOfTypes {
    pub organization_id: i64,
    pub types: Vec<OfferType>,
    pub target_id: Option<String>,
    pub who: Option<EndUserRef>,
}

impl Handler<OffersOfTypes> for OfferSelector {
    /// The offers as JSON text (an array), as intercept answers them.
    type Result = ResponseActFuture<Self, Result<String, Failure>>;

    fn handle(&mut self, msg: OffersOfTypes, _: &mut Self::Context) -> Self::Result {
        let identifying = msg.who.clone().map(|who| {
            self.dunning.send(Identify {
                organization_id: msg.organization_id,
                who,
            })
        });
        let recorder = self.recorder.clone();
        let db = self.db.clone();
        guard_act(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        let user = identify(identifying).await?;
                        let fits = |o: &CatalogOffer| {
                            msg.types.contains(&o.kind)
                                && match (&msg.target_id, &o.placement.target_id) {
                                    (Some(wanted), Some(target)) => wanted == target,
                                    _ => true,
                                }
                        };
                        let experiment = msg.target_id.as_deref().and_then(|target| {
                            catalog
                                .experiments
                                .iter()
                                .find(|e| e.applies_to(target, None))
                        });
                        let (tag, candidates): (Option<Value>, Vec<usize>) = match experiment {
                            Some(e) => {
                                let arm = e.assign(user.map(|u| u.id));
                                recorder
                                    .send(Record::Assignment(NewAssignment {
                                        organization_id: msg.organization_id,
                                        end_user_id: user.map(|u| u.id),
                                        exposure: e.exposure(arm),
                                    }))
                                    .await
                                    .map_err(|e| {
                                        anyhow::anyhow!("outcome recorder unavailable: {e}")
                                    })??;
                                let offers = e.arms[arm]
                                    .offer_ids
                                    .iter()
                                    .filter_map(|id| catalog.positions.get(id).copied())
                                    .filter(|&i| fits(&catalog.offers[i]))
                                    .collect();
                                (Some(e.tag(arm)), offers)
                            }
                            None => (
                                None,
                                catalog
                                    .offers
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, o)| o.active && fits(o))
                                    .map(|(i, _)| i)
                                    .collect(),
                            ),
                        };
                        let verdicts = check_offers(
                            &db,
                            &catalog,
                            msg.organization_id,
                            &candidates,
                            user.map(|u| u.id),
                            user.is_some_and(|u| u.has_stripe_customer),
                        )
                        .await?;
                        let shown: Vec<&CatalogOffer> = candidates
                            .iter()
                            .zip(&verdicts)
                            .filter(|(_, v)| v.is_ok())
                            .map(|(&i, _)| &catalog.offers[i])
                            .collect();
                        Ok(shown_list(&shown, tag.as_ref()))
                    })
                }),
        )
    }
}

/// Before an offer is applied: is it available to this end user, and which experiment arm
/// (if any) gets the credit.
#[derive(Message)]
#[rtype(result = "Result<ApplicationCheck, Failure>")]
pub struct CheckApplication {
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ApplicationCheck {
    pub refusal: Option<Ineligible>,
    pub exposure: Option<Exposure>,
}

impl Handler<CheckApplication> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<ApplicationCheck, Failure>>;

    fn handle(&mut self, msg: CheckApplication, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard_act(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        let Some(&position) = catalog.positions.get(&msg.offer_id) else {
                            return Err(invalid_offer());
                        };
                        // apply-offer always names the subscription.
                        let verdict = check_offers(
                            &db,
                            &catalog,
                            msg.organization_id,
                            &[position],
                            msg.end_user_id,
                            true,
                        )
                        .await?
                        .pop()
                        .unwrap_or(Ok(()));
                        let exposure =
                            attribution(&db, &catalog, msg.offer_id, msg.end_user_id).await?;
                        Ok(ApplicationCheck {
                            refusal: verdict.err(),
                            exposure,
                        })
                    })
                }),
        )
    }
}

/// The arm an outcome or application of this offer belongs to: a known end user's own
/// recorded assignment, when the offer is in that arm; for an anonymous one, the arm that
/// holds the offer.
async fn attribution(
    db: &DatabaseConnection,
    catalog: &CatalogData,
    offer_id: i64,
    end_user_id: Option<i64>,
) -> Result<Option<Exposure>, Failure> {
    let Some((experiment, arm)) = catalog.running_with_offer(offer_id) else {
        return Ok(None);
    };
    match end_user_id {
        Some(user) => Ok(experiments::assigned_arm(db, experiment.id, user)
            .await?
            .filter(|assigned| *assigned == experiment.arms[arm].name)
            .map(|_| experiment.exposure(arm))),
        None => Ok(Some(experiment.exposure(arm))),
    }
}

fn invalid_offer() -> Failure {
    Failure::Invalid(ValidationErrors::single(
        "offer_id",
        "The selected offer id is invalid.",
    ))
}

/// The offers API.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageOffers {
    List {
        organization_id: i64,
    },
    Get {
        organization_id: i64,
        offer_id: i64,
    },
    /// A draft the handler parsed with the domain's rules.
    Create {
        organization_id: i64,
        draft: OfferDraft,
    },
    /// Fields merged over the stored offer, then checked as a whole draft.
    Update {
        organization_id: i64,
        offer_id: i64,
        patch: Map<String, Value>,
    },
    Delete {
        organization_id: i64,
        offer_id: i64,
    },
}

fn not_found(offer_id: i64) -> Failure {
    Failure::NotFound(format!("Offer {offer_id} not found."))
}

impl Handler<ManageOffers> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageOffers, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageOffers::List { organization_id } => {
                guard_act(self.catalog(organization_id).map(|catalog, _, _| {
                    let catalog = catalog?;
                    let offers: Vec<Value> =
                        catalog.offers.iter().map(CatalogOffer::resource).collect();
                    Ok(json!({ "data": offers }))
                }))
            }
            ManageOffers::Get {
                organization_id,
                offer_id,
            } => guard_act(self.catalog(organization_id).map(move |catalog, _, _| {
                catalog?
                    .offer(offer_id)
                    .map(CatalogOffer::resource)
                    .ok_or_else(|| not_found(offer_id))
            })),
            ManageOffers::Create {
                organization_id,
                draft,
            } => {
                let work = async move {
                    let now = Utc::now();
                    let mut row = draft_to_row(&draft);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(now);
                    row.updated_at = Set(now);
                    let saved = row.insert(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource())
                };
                guard_act(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
                )
            }
            ManageOffers::Update {
                organization_id,
                offer_id,
                patch,
            } => {
                let work = async move {
                    let current = find_row(&db, organization_id, offer_id).await?;
                    let body = merge_patch(
                        as_body(&CatalogOffer::from_row(current.clone())?.resource()),
                        &patch,
                    );
                    let draft = parse_offer(&body).map_err(Failure::Invalid)?;
                    let mut row = draft_to_row(&draft);
                    row.id = Set(current.id);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(current.created_at);
                    row.updated_at = Set(Utc::now());
                    let saved = row.update(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource())
                };
                guard_act(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
                )
            }
            ManageOffers::Delete {
                organization_id,
                offer_id,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            // An experiment that is not stopped would lose an arm's offer.
                            if let Some(e) = catalog?.live_experiment_with_offer(offer_id) {
                                return Err(Failure::Refused(format!(
                                    "Offer {offer_id} is in experiment {} ({}), which is {}: stop the experiment (or take the offer out of its arms while it is a draft) first.",
                                    e.id,
                                    e.name,
                                    e.status.as_str()
                                )));
                            }
                            delete_offer(&db, organization_id, offer_id).await
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
        }
    }
}

async fn delete_offer(
    db: &DatabaseConnection,
    organization_id: i64,
    offer_id: i64,
) -> Result<Value, Failure> {
    let current = find_row(db, organization_id, offer_id).await?;
    let history = outcome::Entity::find()
        .filter(outcome::Column::OfferId.eq(offer_id))
        .count(db)
        .await?
        + offer_application::Entity::find()
            .filter(offer_application::Column::OfferId.eq(offer_id))
            .count(db)
            .await?;
    if history > 0 {
        // Outcomes or applications point at it: keep the row so history keeps its meaning.
        let mut row: offer::ActiveModel = current.into();
        row.active = Set(false);
        row.updated_at = Set(Utc::now());
        row.update(db).await?;
        Ok(
            json!({"message": "Offer deactivated: it has recorded outcomes or applications, so it is kept for history.", "deleted": false, "active": false}),
        )
    } else {
        offer::Entity::delete_by_id(offer_id).exec(db).await?;
        Ok(json!({"message": "Offer deleted.", "deleted": true}))
    }
}

async fn find_row(
    db: &DatabaseConnection,
    organization_id: i64,
    offer_id: i64,
) -> Result<offer::Model, Failure> {
    offer::Entity::find_by_id(offer_id)
        .filter(offer::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or_else(|| not_found(offer_id))
}

fn rule_column(value: Option<u32>) -> Option<i32> {
    value.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

fn draft_to_row(draft: &OfferDraft) -> offer::ActiveModel {
    let triggers: Vec<&str> = draft
        .placement
        .triggers
        .iter()
        .map(|t| t.as_str())
        .collect();
    offer::ActiveModel {
        kind: Set(draft.kind.as_str().to_owned()),
        value: Set(draft.value),
        label: Set(draft.label.clone()),
        config: Set(Value::Object(draft.config.0.clone()).to_string()),
        target_id: Set(draft.placement.target_id.clone()),
        triggers: Set(serde_json::to_string(&triggers).unwrap_or_else(|_| "[]".into())),
        min_mrr_e4: Set(draft.placement.min_mrr.map(Mrr::to_storage)),
        max_mrr_e4: Set(draft.placement.max_mrr.map(Mrr::to_storage)),
        priority: Set(draft.priority),
        active: Set(draft.active),
        cooldown_days: Set(rule_column(draft.rules.cooldown_days)),
        type_cooldown_days: Set(rule_column(draft.rules.type_cooldown_days)),
        max_redemptions: Set(rule_column(draft.rules.max_redemptions)),
        max_redemptions_per_user: Set(rule_column(draft.rules.max_redemptions_per_user)),
        requires_subscription: Set(draft.rules.requires_subscription),
        ..Default::default()
    }
}

/// An end user's choice after seeing an offer; the offer must be one of the organization's.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct RecordOutcome {
    pub organization_id: i64,
    pub offer_id: i64,
    pub status: super::outcome_recorder::OutcomeStatus,
    pub who: Option<EndUserRef>,
    pub mrr: Option<Mrr>,
}

impl Handler<RecordOutcome> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<(), Failure>>;

    fn handle(&mut self, msg: RecordOutcome, _: &mut Self::Context) -> Self::Result {
        let dunning = self.dunning.clone();
        let recorder = self.recorder.clone();
        let db = self.db.clone();
        guard_act(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        if catalog.offer(msg.offer_id).is_none() {
                            return Err(invalid_offer());
                        }
                        let identifying = msg.who.map(|who| {
                            dunning.send(Identify {
                                organization_id: msg.organization_id,
                                who,
                            })
                        });
                        let end_user_id = identify(identifying).await?.map(|u| u.id);
                        let exposure =
                            attribution(&db, &catalog, msg.offer_id, end_user_id).await?;
                        recorder
                            .send(Record::Outcome(super::outcome_recorder::NewOutcome {
                                organization_id: msg.organization_id,
                                offer_id: msg.offer_id,
                                end_user_id,
                                status: msg.status,
                                mrr_e4: msg.mrr.map(Mrr::to_storage),
                                source: "outcome",
                                exposure,
                            }))
                            .await
                            .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))??;
                        Ok(())
                    })
                }),
        )
    }
}

/// The experiments API.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageExperiments {
    List {
        organization_id: i64,
    },
    Get {
        organization_id: i64,
        experiment_id: i64,
    },
    Create {
        organization_id: i64,
        body: Map<String, Value>,
    },
    Update {
        organization_id: i64,
        experiment_id: i64,
        patch: Map<String, Value>,
    },
    Results {
        organization_id: i64,
        experiment_id: i64,
    },
}

fn experiment_not_found(id: i64) -> Failure {
    Failure::NotFound(format!("Experiment {id} not found."))
}

/// What keeps an experiment from running: another running experiment on the same target
/// and trigger (a call could not belong to both), or an offer already in another running
/// experiment (its outcomes could not be attributed).
fn start_conflicts(
    catalog: &CatalogData,
    experiment_id: Option<i64>,
    draft: &experiment_draft::ExperimentDraft,
) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    for other in catalog
        .experiments
        .iter()
        .filter(|e| e.is_running() && Some(e.id) != experiment_id)
    {
        if experiments::overlaps(&draft.target_id, draft.trigger, other) {
            errors.add(
                "status",
                format!(
                    "Experiment {} ({}) is already running on target {}; stop it first.",
                    other.id, other.name, other.target_id
                ),
            );
        }
        for arm in &draft.arms {
            for id in arm
                .offer_ids
                .iter()
                .filter(|id| other.arm_of_offer(**id).is_some())
            {
                errors.add(
                    "arms",
                    format!(
                        "Offer {id} is already in running experiment {} ({}).",
                        other.id, other.name
                    ),
                );
            }
        }
    }
    errors
}

/// Arm offers that are inactive now: they show only through the experiment.
fn experiment_only(catalog: &CatalogData, draft: &experiment_draft::ExperimentDraft) -> String {
    let ids: Vec<i64> = draft
        .arms
        .iter()
        .flat_map(|a| a.offer_ids.iter().copied())
        .filter(|id| catalog.offer(*id).is_some_and(|o| !o.active))
        .collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

async fn create_experiment(
    db: DatabaseConnection,
    catalog: Catalog,
    organization_id: i64,
    body: Map<String, Value>,
) -> Result<Value, Failure> {
    let draft = parse_experiment(&body, &*catalog, &catalog.settings).map_err(Failure::Invalid)?;
    if draft.status == ExperimentStatus::Stopped {
        return Err(Failure::Invalid(ValidationErrors::single(
            "status",
            "The status field must be draft or running when an experiment is created.",
        )));
    }
    let now = Utc::now();
    let mut row = experiments::draft_to_row(&draft);
    if draft.status == ExperimentStatus::Running {
        let conflicts = start_conflicts(&catalog, None, &draft);
        if !conflicts.is_empty() {
            return Err(Failure::Invalid(conflicts));
        }
        row.experiment_only_offer_ids = Set(Some(experiment_only(&catalog, &draft)));
    }
    experiments::stamp(&mut row, ExperimentStatus::Draft, draft.status, now);
    row.organization_id = Set(organization_id);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    let saved = experiments::save(&db, organization_id, row, None).await?;
    Ok(CatalogExperiment::from_row(saved)?.resource)
}

async fn update_experiment(
    db: DatabaseConnection,
    catalog: Catalog,
    organization_id: i64,
    experiment_id: i64,
    mut patch: Map<String, Value>,
) -> Result<Value, Failure> {
    let current = catalog
        .experiment(experiment_id)
        .ok_or_else(|| experiment_not_found(experiment_id))?;
    // Promotion is an action of this PATCH, not a stored field.
    let promote_body: Map<String, Value> = ["promote_winner", "promote_arm"]
        .iter()
        .filter_map(|key| patch.remove(*key).map(|v| ((*key).to_owned(), v)))
        .collect();
    let mut input = crate::domain::fields::Input::new(&promote_body);
    let promote_winner = input.boolean("promote_winner", false).unwrap_or(false);
    let promote_arm = input.string("promote_arm", false, experiment_draft::MAX_ARM_NAME);
    let mut errors = input.errors;
    if current.status != ExperimentStatus::Draft {
        for key in DRAFT_ONLY {
            if patch
                .get(key)
                .is_some_and(|v| Some(v) != current.resource.get(key))
            {
                errors.add(
                    key,
                    format!(
                        "The {} field can only change while the experiment is a draft.",
                        key.replace('_', " ")
                    ),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let body = merge_patch(experiment_draft::as_body(&current.resource), &patch);
    let draft = if current.status == ExperimentStatus::Draft {
        parse_experiment(&body, &*catalog, &catalog.settings)
    } else {
        parse_experiment(&body, &FrozenArms, &catalog.settings)
    }
    .map_err(Failure::Invalid)?;
    if !current.status.can_become(draft.status) {
        return Err(Failure::Invalid(ValidationErrors::single(
            "status",
            format!(
                "The status cannot change from {} to {}.",
                current.status.as_str(),
                draft.status.as_str()
            ),
        )));
    }
    let starting =
        current.status != ExperimentStatus::Running && draft.status == ExperimentStatus::Running;
    if starting {
        let conflicts = start_conflicts(&catalog, Some(experiment_id), &draft);
        if !conflicts.is_empty() {
            return Err(Failure::Invalid(conflicts));
        }
    }
    let promotion = if promote_winner || promote_arm.is_some() {
        Some(plan_promotion(&db, current, &draft, promote_winner, promote_arm.as_deref()).await?)
    } else {
        None
    };
    let now = Utc::now();
    let mut row = experiments::draft_to_row(&draft);
    row.id = Set(experiment_id);
    row.updated_at = Set(now);
    if starting {
        row.experiment_only_offer_ids = Set(Some(experiment_only(&catalog, &draft)));
    }
    if let Some(promotion) = &promotion {
        row.promoted_arm = Set(Some(promotion.arm.clone()));
    }
    experiments::stamp(&mut row, current.status, draft.status, now);
    let saved = experiments::save(&db, organization_id, row, promotion.as_ref()).await?;
    let mut resource = CatalogExperiment::from_row(saved)?.resource;
    if let (Some(promotion), Some(fields)) = (&promotion, resource.as_object_mut()) {
        fields.insert("promotion".into(), promotion.to_json());
    }
    Ok(resource)
}

/// Which arm a stopping experiment promotes: the named one, or the verdict's winner (and
/// then only if there is one).
async fn plan_promotion(
    db: &DatabaseConnection,
    current: &CatalogExperiment,
    draft: &experiment_draft::ExperimentDraft,
    promote_winner: bool,
    promote_arm: Option<&str>,
) -> Result<Promotion, Failure> {
    let refuse =
        |field: &str, message: String| Failure::Invalid(ValidationErrors::single(field, message));
    let field = if promote_arm.is_some() {
        "promote_arm"
    } else {
        "promote_winner"
    };
    if draft.status != ExperimentStatus::Stopped {
        return Err(refuse(
            field,
            "Offers are promoted when the experiment stops: send status stopped with it.".into(),
        ));
    }
    if current.status == ExperimentStatus::Draft {
        return Err(refuse(
            field,
            "A draft never ran, so it has nothing to promote.".into(),
        ));
    }
    let name = match promote_arm {
        Some(name) => name.to_owned(),
        None => {
            debug_assert!(promote_winner);
            let figures = experiments::figures(db, current.id).await?;
            let (_, verdict) = experiments::results_json(current, &figures);
            match verdict.winner() {
                Some(winner) => winner.to_owned(),
                None => {
                    return Err(refuse(
                        field,
                        format!(
                            "There is no winner to promote ({}): {}",
                            verdict.text(),
                            verdict.reason()
                        ),
                    ))
                }
            }
        }
    };
    let arm = current
        .arms
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| refuse(field, "The selected promote arm is invalid.".into()))?;
    Ok(Promotion::plan(current, arm))
}

impl Handler<ManageExperiments> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageExperiments, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageExperiments::List { organization_id } => {
                guard_act(self.catalog(organization_id).map(|catalog, _, _| {
                    let data: Vec<Value> = catalog?
                        .experiments
                        .iter()
                        .map(|e| e.resource.clone())
                        .collect();
                    Ok(json!({ "data": data }))
                }))
            }
            ManageExperiments::Get {
                organization_id,
                experiment_id,
            } => guard_act(self.catalog(organization_id).map(move |catalog, _, _| {
                catalog?
                    .experiment(experiment_id)
                    .map(|e| e.resource.clone())
                    .ok_or_else(|| experiment_not_found(experiment_id))
            })),
            ManageExperiments::Results {
                organization_id,
                experiment_id,
            } => guard_act(self.catalog(organization_id).then(move |catalog, _, _| {
                fut::wrap_future(async move {
                    let catalog = catalog?;
                    let experiment = catalog
                        .experiment(experiment_id)
                        .ok_or_else(|| experiment_not_found(experiment_id))?;
                    let figures = experiments::figures(&db, experiment_id).await?;
                    Ok(experiments::results_json(experiment, &figures).0)
                })
            })),
            ManageExperiments::Create {
                organization_id,
                body,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            create_experiment(db, catalog?, organization_id, body).await
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
            ManageExperiments::Update {
                organization_id,
                experiment_id,
                patch,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            update_experiment(db, catalog?, organization_id, experiment_id, patch)
                                .await
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
        }
    }
}

/// The organization's own settings.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageSettings {
    Get {
        organization_id: i64,
    },
    Update {
        organization_id: i64,
        patch: Map<String, Value>,
    },
}

impl Handler<ManageSettings> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageSettings, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageSettings::Get { organization_id } => guard_act(
                self.catalog(organization_id)
                    .map(|catalog, _, _| Ok(settings_json(&catalog?.settings))),
            ),
            ManageSettings::Update {
                organization_id,
                patch,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            let current = settings_json(&catalog?.settings);
                            let body = merge_patch(as_body(&current), &patch);
                            let settings = parse_settings(&body).map_err(Failure::Invalid)?;
                            save_settings(&db, organization_id, &settings).await?;
                            Ok(settings_json(&settings))
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
        }
    }
}

#[tracing::instrument(skip(db, settings))]
async fn save_settings(
    db: &DatabaseConnection,
    organization_id: i64,
    settings: &OrgSettings,
) -> Result<(), Failure> {
    use organization_setting::Column;
    let row = organization_setting::ActiveModel {
        organization_id: Set(organization_id),
        offer_cooldown_days: Set(rule_column(settings.offer_cooldown_days)),
        type_cooldown_days: Set(rule_column(settings.type_cooldown_days)),
        max_redemptions_per_user: Set(rule_column(settings.max_redemptions_per_user)),
        require_subscription_for_changes: Set(settings.require_subscription_for_changes),
        experiment_confidence: Set(settings.experiment_confidence),
        experiment_min_sample_size: Set(
            rule_column(Some(settings.experiment_min_sample_size)).unwrap_or(i32::MAX)
        ),
        updated_at: Set(Utc::now()),
    };
    organization_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::OrganizationId)
                .update_columns([
                    Column::OfferCooldownDays,
                    Column::TypeCooldownDays,
                    Column::MaxRedemptionsPerUser,
                    Column::RequireSubscriptionForChanges,
                    Column::ExperimentConfidence,
                    Column::ExperimentMinSampleSize,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

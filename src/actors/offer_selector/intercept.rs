//! Which offers a cancel-flow page shows (intercept), and the offers of given types that
//! sentiment suggests: placement, experiment arm and eligibility decide.
use actix::prelude::*;
use serde_json::Value;

use super::catalog::{shown_list, CatalogOffer};
use super::eligibility::{check_offers, identify};
use super::OfferSelector;
use crate::actors::dunning_tracker::Identify;
use crate::actors::outcome_recorder::{NewAssignment, NewImpression, Record};
use crate::actors::{guard_act, Failure};
use crate::domain::{EndUserRef, Mrr, OfferType, Trigger};
use crate::store::experiments::Exposure;

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

//! Recording an end user's choice after seeing an offer, credited to its experiment arm.
use actix::prelude::*;

use super::application::invalid_offer;
use super::eligibility::{attribution, identify};
use super::OfferSelector;
use crate::actors::dunning_tracker::Identify;
use crate::actors::outcome_recorder::Record;
use crate::actors::{guard_act, Failure};
use crate::domain::{EndUserRef, Mrr};

/// An end user's choice after seeing an offer; the offer must be one of the organization's.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct RecordOutcome {
    pub organization_id: i64,
    pub offer_id: i64,
    pub status: crate::actors::outcome_recorder::OutcomeStatus,
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
                            .send(Record::Outcome(
                                crate::actors::outcome_recorder::NewOutcome {
                                    organization_id: msg.organization_id,
                                    offer_id: msg.offer_id,
                                    end_user_id,
                                    status: msg.status,
                                    mrr_e4: msg.mrr.map(Mrr::to_storage),
                                    source: "outcome",
                                    exposure,
                                },
                            ))
                            .await
                            .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))??;
                        Ok(())
                    })
                }),
        )
    }
}

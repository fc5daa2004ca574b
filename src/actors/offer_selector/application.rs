//! What applying an offer asks first: the offer itself, whether the end user may have it,
//! and which experiment arm gets the credit.
use actix::prelude::*;

use super::catalog::CatalogOffer;
use super::eligibility::{attribution, check_offers};
use super::OfferSelector;
use crate::actors::{guard_act, Failure};
use crate::domain::eligibility::Ineligible;
use crate::domain::validation::ValidationErrors;
use crate::store::experiments::Exposure;

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

pub(super) fn invalid_offer() -> Failure {
    Failure::Invalid(ValidationErrors::single(
        "offer_id",
        "The selected offer id is invalid.",
    ))
}

//! StripeApplier: turns an accepted offer into Stripe calls; a transient failure hands the
//! application to the retry queue.
use crate::actors::guard;
use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;
use entity::offer_application;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use workers::RetryPolicy;

use super::dunning_tracker::{DunningTracker, Identify};
use super::offer_selector::{CheckApplication, FindOffer, OfferSelector};
use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::validation::ValidationErrors;
use crate::domain::{EndUserRef, Mrr, OfferType};
use crate::store::applications::{application_json, Attempt, NewApplication, OfferApplier};

pub struct StripeApplier {
    applier: Arc<OfferApplier>,
    retry: RetryPolicy,
    offers: Addr<OfferSelector>,
    dunning: Addr<DunningTracker>,
}

impl StripeApplier {
    pub fn new(
        applier: Arc<OfferApplier>,
        retry: RetryPolicy,
        offers: Addr<OfferSelector>,
        dunning: Addr<DunningTracker>,
    ) -> Self {
        StripeApplier {
            applier,
            retry,
            offers,
            dunning,
        }
    }
}

impl Actor for StripeApplier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

#[derive(Message)]
#[rtype(result = "Result<ApplyAnswer, Failure>")]
pub struct ApplyOffer {
    pub organization_id: i64,
    pub offer_id: i64,
    pub stripe_subscription_id: String,
    pub who: Option<EndUserRef>,
    pub mrr: Option<Mrr>,
}

#[derive(Debug)]
pub enum ApplyAnswer {
    /// Stripe took the change within the request.
    Applied,
    /// Stripe failed transiently; the application will be retried.
    Queued { application_id: i64 },
    /// Stripe (or the offer) rules the change out.
    Refused {
        message: String,
        stripe_error: Option<Value>,
    },
}

impl Handler<ApplyOffer> for StripeApplier {
    type Result = ResponseFuture<Result<ApplyAnswer, Failure>>;

    fn handle(&mut self, msg: ApplyOffer, _: &mut Self::Context) -> Self::Result {
        let applier = self.applier.clone();
        let first_delay = self.retry.delay_for(1);
        let find = self.offers.send(FindOffer {
            organization_id: msg.organization_id,
            offer_id: msg.offer_id,
        });
        let dunning = self.dunning.clone();
        let offers = self.offers.clone();
        guard(async move {
            let offer = find
                .await
                .map_err(|e| anyhow::anyhow!("offer selector unavailable: {e}"))??
                .ok_or_else(|| {
                    Failure::Invalid(ValidationErrors::single(
                        "offer_id",
                        "The selected offer id is invalid.",
                    ))
                })?;
            if matches!(offer.kind, OfferType::Contact | OfferType::Custom) {
                return Ok(ApplyAnswer::Refused {
                    message: format!(
                        "A {} offer has no Stripe action; record the customer's choice with POST /api/v1/intercept/outcome.",
                        offer.kind.as_str()
                    ),
                    stripe_error: None,
                });
            }
            if applier.stripe_key(msg.organization_id).await?.is_none() {
                return Ok(ApplyAnswer::Refused {
                    message: "Stripe is not configured for this organization (saveloops org set-stripe-key).".into(),
                    stripe_error: None,
                });
            }
            let end_user_id = match msg.who {
                Some(who) => Some(
                    dunning
                        .send(Identify {
                            organization_id: msg.organization_id,
                            who,
                        })
                        .await
                        .map_err(|e| anyhow::anyhow!("dunning tracker unavailable: {e}"))??
                        .id,
                ),
                None => None,
            };
            // Eligibility again: the client may apply an offer it was never shown, or
            // one whose cooldown or cap was reached since.
            let check = offers
                .send(CheckApplication {
                    organization_id: msg.organization_id,
                    offer_id: msg.offer_id,
                    end_user_id,
                })
                .await
                .map_err(|e| anyhow::anyhow!("offer selector unavailable: {e}"))??;
            if let Some(refusal) = check.refusal {
                return Ok(ApplyAnswer::Refused {
                    message: format!("This offer is not available: {refusal}."),
                    stripe_error: None,
                });
            }
            let application = applier
                .open(NewApplication {
                    organization_id: msg.organization_id,
                    offer_id: msg.offer_id,
                    end_user_id,
                    stripe_subscription_id: msg.stripe_subscription_id,
                    mrr_e4: msg.mrr.map(Mrr::to_storage),
                    exposure: check.exposure,
                })
                .await?;
            match applier.attempt(application.id).await? {
                Attempt::Applied => Ok(ApplyAnswer::Applied),
                Attempt::Permanent {
                    error,
                    stripe_error,
                } => Ok(ApplyAnswer::Refused {
                    message: format!("The offer could not be applied: {error}"),
                    stripe_error,
                }),
                Attempt::Transient { error } | Attempt::Replayed { error, .. } => {
                    tracing::warn!(application = application.id, %error, "Stripe failed; queued for retry");
                    let at =
                        Utc::now() + chrono::TimeDelta::from_std(first_delay).unwrap_or_default();
                    // The ledger already says "retrying": if queueing fails, the reconciler
                    // queues it later, so the answer stays 202.
                    if let Err(e) = applier.schedule(application.id, at).await {
                        tracing::error!(error = %format!("{e:#}"), application = application.id, "could not queue the retry");
                    }
                    Ok(ApplyAnswer::Queued {
                        application_id: application.id,
                    })
                }
            }
        })
    }
}

/// One application of the organization, as its status endpoint shows it.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub struct GetApplication {
    pub organization_id: i64,
    pub application_id: i64,
}

impl Handler<GetApplication> for StripeApplier {
    type Result = ResponseFuture<Result<Value, Failure>>;

    fn handle(&mut self, msg: GetApplication, _: &mut Self::Context) -> Self::Result {
        let db = self.applier.db.clone();
        guard(async move {
            let found = offer_application::Entity::find_by_id(msg.application_id)
                .filter(offer_application::Column::OrganizationId.eq(msg.organization_id))
                .one(&db)
                .await?;
            found.map(|a| application_json(&a)).ok_or_else(|| {
                Failure::NotFound(format!("Application {} not found.", msg.application_id))
            })
        })
    }
}

/// A page of Stripe's where the end user updates their card: a billing-portal session in its
/// payment-method flow, for the customer the caller names. What the widget opens when the
/// intercept says `show_update_card`.
#[derive(Message)]
#[rtype(result = "Result<String, Failure>")]
pub struct OpenCardUpdate {
    pub organization_id: i64,
    pub stripe_customer_id: String,
    pub return_url: Option<String>,
}

impl Handler<OpenCardUpdate> for StripeApplier {
    type Result = ResponseFuture<Result<String, Failure>>;

    fn handle(&mut self, msg: OpenCardUpdate, _: &mut Self::Context) -> Self::Result {
        let applier = self.applier.clone();
        guard(async move {
            let Some(key) = applier.stripe_key(msg.organization_id).await? else {
                return Err(Failure::Refused(
                    "Stripe is not configured for this organization (saveloops org set-stripe-key).".into(),
                ));
            };
            // Each request opens its own page: a fresh key, so a retry never replays another's.
            let idempotency_key =
                format!("saveloops-card-{}", hex::encode(rand::random::<[u8; 16]>()));
            applier
                .stripe
                .create_card_update_session(
                    &key,
                    &msg.stripe_customer_id,
                    msg.return_url.as_deref(),
                    &idempotency_key,
                )
                .await
                .map_err(|error| {
                    tracing::warn!(%error, "Stripe did not open a billing-portal session");
                    Failure::Refused(format!(
                        "Stripe could not open the card update page: {error}"
                    ))
                })
        })
    }
}

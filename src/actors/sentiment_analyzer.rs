//! SentimentAnalyzer: reads a cancellation reason, suggests the save action with matching
//! offers, records the reason, and opens a ticket when a human is needed.
use crate::actors::guard;
use actix::prelude::*;

use super::dunning_tracker::{DunningTracker, Identify};
use super::offer_selector::{OfferSelector, OffersOfTypes};
use super::outcome_recorder::{NewReason, OutcomeRecorder, Record};
use super::reason_classifier::Reading;
use super::ticket_desk::{NewTicket, TicketDesk, TicketOpened};
use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::ticket::opens_ticket;
use crate::domain::{EndUserRef, OfferType};
use crate::sentiment::{Language, SuggestedAction};

pub struct SentimentAnalyzer {
    recorder: Addr<OutcomeRecorder>,
    offers: Addr<OfferSelector>,
    dunning: Addr<DunningTracker>,
    tickets: Addr<TicketDesk>,
    /// `sentiment.ticket_min_confidence`: a support reading below it opens no ticket.
    ticket_min_confidence: f64,
}

impl SentimentAnalyzer {
    pub fn new(
        recorder: Addr<OutcomeRecorder>,
        offers: Addr<OfferSelector>,
        dunning: Addr<DunningTracker>,
        tickets: Addr<TicketDesk>,
        ticket_min_confidence: f64,
    ) -> Self {
        SentimentAnalyzer {
            recorder,
            offers,
            dunning,
            tickets,
            ticket_min_confidence,
        }
    }
}

impl Actor for SentimentAnalyzer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// The offer types that fit a suggested action.
pub fn offer_types_for(action: SuggestedAction) -> Vec<OfferType> {
    match action {
        SuggestedAction::Discount => vec![OfferType::Discount, OfferType::Downgrade],
        SuggestedAction::Pause => vec![OfferType::Pause],
        SuggestedAction::SetupCall => vec![OfferType::Contact, OfferType::TrialExtension],
        SuggestedAction::Support => vec![OfferType::Contact],
        SuggestedAction::None => vec![],
    }
}

#[derive(Message)]
#[rtype(result = "Result<SentimentAnswer, Failure>")]
pub struct AnalyzeReason {
    pub organization_id: i64,
    pub reason: String,
    /// The model's reading of it (see `ReasonReader`).
    pub reading: Reading,
    pub who: Option<EndUserRef>,
    pub target_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SentimentAnswer {
    pub suggested_action: SuggestedAction,
    pub confidence: f64,
    pub category: String,
    /// The language the reason is written in.
    pub language: Language,
    pub sentiment: f64,
    /// JSON text: an array of offers, as intercept shows them.
    pub offers: String,
    pub ticket_id: Option<i64>,
}

impl Handler<AnalyzeReason> for SentimentAnalyzer {
    type Result = ResponseFuture<Result<SentimentAnswer, Failure>>;

    fn handle(&mut self, msg: AnalyzeReason, _: &mut Self::Context) -> Self::Result {
        let identify = msg.who.clone().map(|who| {
            self.dunning.send(Identify {
                organization_id: msg.organization_id,
                who,
            })
        });
        let offers = self.offers.clone();
        let tickets = self.tickets.clone();
        let recorder = self.recorder.clone();
        let ticket_min_confidence = self.ticket_min_confidence;
        guard(async move {
            let reading = msg.reading;
            let action = reading.prediction.action;
            let offers = offers
                .send(OffersOfTypes {
                    organization_id: msg.organization_id,
                    types: offer_types_for(action),
                    target_id: msg.target_id.clone(),
                    // Eligibility (cooldowns, caps) and experiment arms for this end user.
                    who: msg.who.clone(),
                })
                .await
                .map_err(|e| anyhow::anyhow!("offer selector unavailable: {e}"))??;
            let end_user_id = match identify {
                Some(request) => Some(
                    request
                        .await
                        .map_err(|e| anyhow::anyhow!("dunning tracker unavailable: {e}"))??
                        .id,
                ),
                None => None,
            };
            // No ticket from a guess: a support reading opens one only when it is sure enough.
            let opens = opens_ticket(
                action == SuggestedAction::Support,
                reading.prediction.confidence,
                ticket_min_confidence,
            );
            let ticket = opens.then(|| NewTicket {
                organization_id: msg.organization_id,
                end_user_id,
                user_email: msg
                    .who
                    .as_ref()
                    .and_then(|w| w.email.as_ref())
                    .map(|e| e.as_str().to_owned()),
                target_id: msg.target_id.clone(),
                reason: msg.reason.clone(),
                category: reading.prediction.category.clone(),
                sentiment: reading.sentiment,
            });
            // Group-committed with impressions and outcomes (the ticket in the reason's
            // transaction); answered once committed.
            let ticket = recorder
                .send(Record::Reason(NewReason {
                    organization_id: msg.organization_id,
                    end_user_id,
                    target_id: msg.target_id,
                    reason: msg.reason,
                    suggested_action: action.as_str(),
                    category: reading.prediction.category.clone(),
                    language: reading.prediction.language.code(),
                    confidence: reading.prediction.confidence,
                    sentiment: reading.sentiment,
                    ticket,
                }))
                .await
                .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))??;
            if let Some(ticket) = ticket {
                // The ticket is committed: answer with it whatever happens here (a client
                // told of a failure would send the reason again and open a second ticket);
                // a delivery left unqueued is queued by the reconciler.
                if let Err(e) = tickets.send(TicketOpened(ticket)).await {
                    tracing::error!(error = %e, ticket = ticket.id, "ticket desk unavailable");
                }
            }
            let ticket_id = ticket.map(|t| t.id);
            Ok(SentimentAnswer {
                suggested_action: action,
                confidence: reading.prediction.confidence,
                category: reading.prediction.category,
                language: reading.prediction.language,
                sentiment: reading.sentiment,
                offers,
                ticket_id,
            })
        })
    }
}

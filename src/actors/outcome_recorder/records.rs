//! The writes the recorder takes: impressions, experiment assignments, outcomes and
//! analysed cancellation reasons.

use actix::Message;

use crate::actors::ticket_desk::{NewTicket, OpenedTicket};
use crate::actors::Failure;
use crate::store::experiments::Exposure;

#[derive(Debug, Clone)]
pub struct NewImpression {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: String,
    pub trigger: Option<String>,
    pub mrr_e4: Option<i64>,
    pub offer_ids: Vec<i64>,
    /// The experiment arm the offers came from; the exposure is recorded with it.
    pub exposure: Option<Exposure>,
}

/// An exposure without an impression (sentiment suggestions from an experiment arm).
#[derive(Debug, Clone)]
pub struct NewAssignment {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub exposure: Exposure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStatus {
    Saved,
    Abandoned,
}

impl OutcomeStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "saved" => Some(OutcomeStatus::Saved),
            "abandoned" => Some(OutcomeStatus::Abandoned),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Saved => "saved",
            OutcomeStatus::Abandoned => "abandoned",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewOutcome {
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
    pub status: OutcomeStatus,
    pub mrr_e4: Option<i64>,
    /// `outcome` when the client reported it, `apply_offer` when an applied offer saved.
    pub source: &'static str,
    /// The experiment arm credited with it.
    pub exposure: Option<Exposure>,
}

/// A cancellation reason as the sentiment analyzer read it.
#[derive(Debug, Clone)]
pub struct NewReason {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: Option<String>,
    pub reason: String,
    pub suggested_action: &'static str,
    pub category: String,
    /// ISO 639-1 code of the reason's language.
    pub language: &'static str,
    pub confidence: f64,
    pub sentiment: f64,
    /// The support ticket the reason opens, written in the same transaction.
    pub ticket: Option<NewTicket>,
}

/// One row to write durably (answered with the ticket it opened, if any).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<OpenedTicket>, Failure>")]
pub enum Record {
    Impression(NewImpression),
    Outcome(NewOutcome),
    Assignment(NewAssignment),
    Reason(NewReason),
}

//! Actors own the state that must be shared and fast (caches, write batches); handlers send
//! them one message each. I/O runs inside response futures, never blocking an arbiter.
pub mod admin_desk;
pub mod analytics;
pub mod dunning_tracker;
pub mod guard;
pub mod key_verifier;
pub mod member_desk;
pub mod offer_selector;
pub mod outcome_recorder;
pub mod readiness;
pub mod reason_classifier;
pub mod save_validation;
pub mod sentiment_analyzer;
pub mod session_desk;
pub mod stripe_applier;
pub mod stripe_inbox;
pub mod ticket_desk;

pub use guard::{guard, guard_act};

use crate::domain::validation::ValidationErrors;

/// Mailbox size for actors on the request path (actix's default of 16 is too small under load).
pub const MAILBOX_CAPACITY: usize = 4096;

/// How an actor's work can fail.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{}", .0.summary())]
    Invalid(ValidationErrors),
    #[error("{0}")]
    NotFound(String),
    /// Valid in shape, but it cannot be done (422 with a message).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for Failure {
    fn from(error: sea_orm::DbErr) -> Self {
        Failure::Unexpected(anyhow::Error::new(error).context("database operation failed"))
    }
}

/// Addresses of the running actors, shared with every HTTP worker.
#[derive(Clone)]
pub struct Actors {
    pub keys: actix::Addr<key_verifier::KeyVerifier>,
    /// KeyVerifier's cache, read by the HTTP workers.
    pub known_keys: key_verifier::KnownKeys,
    /// Signing secrets the SessionDesk has loaded, read by every HTTP worker.
    pub known_signing_keys: session_desk::KnownSigningKeys,
    /// What sessions were shown, noted and read by every HTTP worker.
    pub session_ledger: session_desk::SessionLedger,
    /// End-user sessions and organizations' signing secrets.
    pub sessions: actix::Addr<session_desk::SessionDesk>,
    pub offers: actix::Addr<offer_selector::OfferSelector>,
    pub outcomes: actix::Addr<outcome_recorder::OutcomeRecorder>,
    pub dunning: actix::Addr<dunning_tracker::DunningTracker>,
    pub readiness: actix::Addr<readiness::Readiness>,
    pub stripe: actix::Addr<stripe_applier::StripeApplier>,
    pub sentiment: actix::Addr<sentiment_analyzer::SentimentAnalyzer>,
    pub reasons: reason_classifier::ReasonReader,
    pub tickets: actix::Addr<ticket_desk::TicketDesk>,
    pub admin: actix::Addr<admin_desk::AdminDesk>,
    pub analytics: actix::Addr<analytics::Analytics>,
    /// The dashboard's members, their invitations and sessions.
    pub members: actix::Addr<member_desk::MemberDesk>,
    /// Stripe's webhook events, and organizations' webhook endpoints and secrets.
    pub stripe_inbox: actix::Addr<stripe_inbox::StripeInbox>,
    /// The StripeInbox's endpoint cache, read by every HTTP worker.
    pub known_stripe_endpoints: stripe_inbox::KnownEndpoints,
    /// Where the HTTP workers hand verified Stripe events.
    pub stripe_events: stripe_inbox::StripeEventIntake,
    /// The service's clock (moved forward by tests).
    pub clock: crate::clock::Clock,
}

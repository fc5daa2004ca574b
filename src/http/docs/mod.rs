//! The OpenAPI 3.1 description, generated from the code (utoipa). The paths come from the
//! route table (`routes::ROUTES` and `routes::ApiDoc`, built by one macro), so a route cannot be
//! served without being described. This module holds the shapes of request and response
//! bodies that handlers build dynamically, the shared error responses and the security
//! schemes.
//!
//! One file per concern: the security schemes, the shared error answers, the body shapes of
//! each endpoint family, and the refinement that states the input rules utoipa cannot.
#![allow(dead_code)] // the types here exist to be described, not constructed

mod applications;
mod cancel_flow;
mod constraints;
mod dunning;
mod error_responses;
mod experiments;
mod members;
mod offers;
mod operations;
mod operator;
mod refinement;
mod security;
mod sentiment;
mod sessions;
mod settings;
mod stripe_webhooks;
mod tickets;

pub use applications::{Application, ApplicationQueued, ApplicationStatus, ApplyOfferRequest};
pub use cancel_flow::{
    CardUpdatePage, CardUpdateRequest, InterceptRequest, InterceptResponse, OutcomeRequest,
    OutcomeStatusDoc, ShownOffer, TriggerDoc,
};
pub use dunning::{DunningRequest, SuccessRecorded, SuccessSignalRequest};
pub use error_responses::{
    AdminErrors, BodyErrors, CancelFlowErrors, KeyedErrors, Message, RateLimited, Unprocessable,
};
pub use experiments::{
    Experiment, ExperimentArm, ExperimentCreate, ExperimentList, ExperimentPatch,
    ExperimentResults, ExperimentStatus,
};
pub use members::{Member, MemberCreate, MemberInvited, MemberList, MemberPatch, MemberRole};
pub use offers::{Offer, OfferCreate, OfferDeleted, OfferList, OfferPatch, OfferTypeDoc};
pub use operations::{Health, Readiness};
pub use operator::{
    CreateOrganizationRequest, CreatedKey, CreatedOrganization, DeadJob, DeadJobPage, JobSettled,
    KeyRevoked, KindStats, OrganizationPage, OrganizationSummary, QueueStats,
};
pub use refinement::refine;
pub use security::{Security, ADMIN_SCHEME, KEY_SCHEME, METRICS_SCHEME, SESSION_SCHEME};
pub use sentiment::{ReasonLanguageDoc, SentimentRequest, SentimentResponse, SuggestedActionDoc};
pub use sessions::{SessionRequest, SessionToken, SigningSecret, SigningSecretList};
pub use settings::{OrganizationSettings, SettingsPatch};
pub use stripe_webhooks::{
    StripeEventReceived, WebhookEndpoint, WebhookSecret, WebhookSecretList, WebhookSecretRequest,
};
pub use tickets::{Ticket, TicketDelivery, TicketPage, TicketPageMeta, TicketPatch, TicketStatus};

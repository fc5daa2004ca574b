//! SeaORM entities: one file per table.
pub mod api_key;
pub mod application_attempt;
pub mod cancellation_reason;
pub mod dunning_episode;
pub mod end_user;
pub mod end_user_change;
pub mod experiment;
pub mod experiment_assignment;
pub mod impression;
pub mod offer;
pub mod offer_application;
pub mod organization;
pub mod organization_setting;
pub mod outcome;
pub mod signing_secret;
pub mod support_ticket;

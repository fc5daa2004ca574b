//! Saveloops: retention offers, outcomes, Stripe application, and payment health for a
//! SaaS company's cancel flow.
pub mod actors;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod sentiment;
pub mod startup;
pub mod store;
pub mod stripe;
pub mod telemetry;

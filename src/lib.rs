//! Saveloops: retention offers, outcomes, Stripe application, and payment health for a
//! SaaS company's cancel flow.
pub mod actors;
pub mod config;
pub mod database;
pub mod domain;
pub mod http;
pub mod startup;
pub mod telemetry;
pub mod tenants;

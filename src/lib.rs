//! Saveloops: retention offers, outcomes, Stripe application, and payment health for a
//! SaaS company's cancel flow.
pub mod actors;
pub mod applications;
pub mod coalescer;
pub mod config;
pub mod database;
pub mod domain;
pub mod eligibility;
pub mod end_user_changes;
pub mod experiments;
pub mod http;
pub mod jobs;
pub mod ledger_jobs;
pub mod metrics;
pub mod secrets;
pub mod sentiment;
pub mod startup;
pub mod stripe;
pub mod telemetry;
pub mod tenants;
pub mod tickets;

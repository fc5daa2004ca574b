//! The database side: connecting and migrating, and the queries and writes of each resource
//! (tenant-scoped: every query names its organization). Actors and job handlers call these;
//! HTTP never does.
pub mod analytics;
pub mod applications;
pub mod coalescer;
pub mod database;
pub mod eligibility;
pub mod end_user_changes;
pub mod experiments;
pub mod members;
pub mod secrets;
pub mod sessions;
pub mod stripe_events;
pub mod stripe_webhooks;
pub mod tenants;
pub mod tickets;

//! The schema's history, one migration per change, run at start-up.
// `MigrationTrait` (an `async_trait`) is declared with `&SchemaManager` and its lifetime
// elided; naming it (`SchemaManager<'_>`) no longer matches the trait after expansion.
#![allow(elided_lifetimes_in_paths)]
pub use sea_orm_migration::prelude::*;

pub mod m20261125_000001_create_tenants;
pub mod m20261125_000002_create_cancel_flow;
pub mod m20261125_000003_create_offer_applications;
pub mod m20261125_000004_create_support_tickets;
// Job queue tables, owned by the workers crate (public so its tests can apply it).
pub mod m20261125_000100_create_queue_jobs;
// Offer eligibility and experiments.
pub mod m20261125_000200_create_experiments;
pub mod m20261125_000201_add_eligibility_and_attribution;
// Operators and analytics (issue 5).
pub mod m20261125_000300_analytics;
// End-user changes announced between instances (SQLite).
pub mod m20261129_000001_create_end_user_changes;
pub mod m20261129_000002_drop_impressions_user_index;
pub mod m20261129_000003_index_only_accepted_outcomes;
pub mod m20261130_000001_drop_outcomes_status_index;
pub mod m20261130_000002_index_only_experiment_rows;
pub mod m20261130_000003_payment_health_events;
pub mod m20261130_000004_count_open_episodes_on_end_users;
pub mod m20261130_000005_drop_dunning_episode_foreign_keys;
pub mod m20261130_000006_outcome_recorder_batches;
pub mod m20261130_000007_drop_reason_and_ticket_foreign_keys;
pub mod m20261203_000001_end_user_identity_batches;
pub mod m20261203_000002_drop_end_user_foreign_key;
pub mod m20261203_000003_end_user_sessions;
// Stripe webhooks in (issue 31).
pub mod m20261206_000001_stripe_webhooks;
// Stripe payment events marked applied with their payments (issue 31).
pub mod m20261207_000002_stripe_events_applied_with_payments;
// Reasons in German, French and Spanish (issue 32).
pub mod m20261206_000001_reason_language;
// The dashboard's members and their sessions (issue 34).
pub mod m20261207_000001_members;
// Analytics rollups kept in the group commits (issue 33).
pub mod analytics_rollups;
pub mod m20261207_000001_analytics_rollups;
// Outcomes and reasons rolled up per batch (issue 33).
pub mod batch_rollups;
pub mod m20261207_000003_rollups_per_batch;
pub mod m20261207_000004_impression_rollups_grouped_by_the_writer;
pub mod m20261207_000005_first_records_in_turn;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tenants::Migration),
            Box::new(m20261125_000002_create_cancel_flow::Migration),
            Box::new(m20261125_000003_create_offer_applications::Migration),
            Box::new(m20261125_000004_create_support_tickets::Migration),
            Box::new(m20261125_000100_create_queue_jobs::Migration),
            Box::new(m20261125_000200_create_experiments::Migration),
            Box::new(m20261125_000201_add_eligibility_and_attribution::Migration),
            Box::new(m20261125_000300_analytics::Migration),
            Box::new(m20261129_000001_create_end_user_changes::Migration),
            Box::new(m20261129_000002_drop_impressions_user_index::Migration),
            Box::new(m20261129_000003_index_only_accepted_outcomes::Migration),
            Box::new(m20261130_000001_drop_outcomes_status_index::Migration),
            Box::new(m20261130_000002_index_only_experiment_rows::Migration),
            Box::new(m20261130_000003_payment_health_events::Migration),
            Box::new(m20261130_000004_count_open_episodes_on_end_users::Migration),
            Box::new(m20261130_000005_drop_dunning_episode_foreign_keys::Migration),
            Box::new(m20261130_000006_outcome_recorder_batches::Migration),
            Box::new(m20261130_000007_drop_reason_and_ticket_foreign_keys::Migration),
            Box::new(m20261203_000001_end_user_identity_batches::Migration),
            Box::new(m20261203_000002_drop_end_user_foreign_key::Migration),
            Box::new(m20261203_000003_end_user_sessions::Migration),
            Box::new(m20261206_000001_stripe_webhooks::Migration),
            Box::new(m20261206_000001_reason_language::Migration),
            Box::new(m20261207_000001_members::Migration),
            Box::new(m20261207_000001_analytics_rollups::Migration),
            Box::new(m20261207_000002_stripe_events_applied_with_payments::Migration),
            Box::new(m20261207_000003_rollups_per_batch::Migration),
            Box::new(m20261207_000004_impression_rollups_grouped_by_the_writer::Migration),
            Box::new(m20261207_000005_first_records_in_turn::Migration),
        ]
    }
}

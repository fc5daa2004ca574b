//! The outcome recorder groups a batch's impressions itself and writes the rows they add to
//! the rollups in the statement (SQLite: the batch view's trigger; PostgreSQL: the statement
//! or transaction) that inserts them: per organization, UTC day, offer, target and trigger the number of
//! impressions; per end user the batch's latest intercept; per experiment arm the number of
//! impressions. The database only upserts them. It used to group them itself: on SQLite the
//! view's trigger read each impression's JSON again and sorted the batch twice in its single
//! writer, on PostgreSQL a statement trigger did the same over the statement's rows; each of
//! those statements cost about as much as the impression's own row (issue 33; a profile,
//! `bench/writes_profile`, with one statement or the other removed from the trigger).
//!
//! The view gets three columns, each a JSON array of rows (arrays of values in the order the
//! statements name them): `impression_days` (organization id, day `YYYY-MM-DD`, offer id,
//! 0 for the intercept itself, target id, trigger or '', count), `latest_intercepts`
//! (organization id, end user id, created at, target id, trigger) and `arm_impressions`
//! (experiment id, arm, count). On PostgreSQL the statement trigger on `impressions` is
//! dropped: every statement that inserts impressions (the outcome recorder's) adds their
//! rollups too.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::analytics_rollups::{postgres_impressions_trigger, SQLITE_BATCH_IMPRESSIONS};
use crate::m20261130_000003_payment_health_events::run_on;
use crate::m20261207_000003_rollups_per_batch::sqlite_batch_trigger as previous_trigger;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_DROP: &str = "DROP TRIGGER IF EXISTS analytics_impressions ON impressions;
DROP FUNCTION IF EXISTS analytics_impressions();";

const DROP_VIEW: &str = "DROP VIEW IF EXISTS outcome_recorder_batches;";

const VIEW: &str = "\
CREATE VIEW outcome_recorder_batches (impressions, assignments, outcomes, reasons, \
    first_ticket_id, webhook_organizations, impression_days, latest_intercepts, \
    arm_impressions) AS \
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;";

const PREVIOUS_VIEW: &str = "\
CREATE VIEW outcome_recorder_batches (impressions, assignments, outcomes, reasons, \
    first_ticket_id, webhook_organizations) AS \
    SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;";

/// The statements that replace `SQLITE_BATCH_IMPRESSIONS` in the view's trigger.
const GROUPED_IMPRESSIONS: &str = "\
    INSERT INTO impression_rollups (organization_id, day, offer_id, target_id, trig, impressions)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5
    FROM jsonb_each(NEW.impression_days) AS r WHERE 1
    ON CONFLICT (organization_id, day, offer_id, target_id, trig) DO UPDATE SET
        impressions = impression_rollups.impressions + excluded.impressions;
    INSERT INTO latest_intercepts (organization_id, end_user_id, created_at, target_id, trig)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4
    FROM jsonb_each(NEW.latest_intercepts) AS r WHERE 1
    ON CONFLICT (organization_id, end_user_id) DO UPDATE SET created_at = excluded.created_at,
        target_id = excluded.target_id, trig = excluded.trig
    WHERE excluded.created_at >= latest_intercepts.created_at;
    INSERT INTO experiment_impressions (experiment_id, arm, impressions)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2 FROM jsonb_each(NEW.arm_impressions) AS r
    WHERE 1
    ON CONFLICT (experiment_id, arm) DO UPDATE SET
        impressions = experiment_impressions.impressions + excluded.impressions;";

fn trigger() -> String {
    let previous = previous_trigger();
    assert!(previous.contains(SQLITE_BATCH_IMPRESSIONS));
    previous.replacen(SQLITE_BATCH_IMPRESSIONS, GROUPED_IMPRESSIONS, 1)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, POSTGRES_DROP).await?;
        // Dropping the view drops its trigger.
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_VIEW, VIEW, &trigger()].join("\n"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(
            DbBackend::Postgres,
            manager,
            &postgres_impressions_trigger(),
        )
        .await?;
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_VIEW, PREVIOUS_VIEW, &previous_trigger()].join("\n"),
        )
        .await
    }
}

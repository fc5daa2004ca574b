//! Analytics rollups (issue 33): per organization, UTC day, offer, target and trigger (and
//! experiment arm), kept current by the statements that write the rows, and built here from
//! the rows already stored (see `crate::analytics_rollups`). Outcomes store their
//! attribution (`attributed_target_id`, `attributed_trigger`), decided when written. On
//! SQLite the batch view's trigger (`m20261206_000001_reason_language`) also rolls up the
//! batch's impressions and notes each end user's latest intercept.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::analytics_rollups::{
    backfill_attribution, create_tables, create_triggers, drop_triggers, rebuild, RebuildScope,
    DROP_TABLES, SQLITE_BATCH_IMPRESSIONS,
};
use crate::m20261130_000003_payment_health_events::run_on;
use crate::m20261206_000001_reason_language::TRIGGER as PREVIOUS_TRIGGER;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROP_BATCH_TRIGGER: &str = "DROP TRIGGER IF EXISTS outcome_recorder_batch;";

/// The batch view's trigger: the previous one, with the impressions' rollups after the
/// impressions.
pub(crate) fn batch_trigger() -> String {
    let anchor = "FROM jsonb_each(NEW.impressions) AS r;";
    PREVIOUS_TRIGGER.replacen(anchor, &format!("{anchor}\n{SQLITE_BATCH_IMPRESSIONS}"), 1)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        db.execute_unprepared(&create_tables(backend)).await?;
        for statement in backfill_attribution(backend) {
            db.execute_unprepared(&statement).await?;
        }
        let everything = RebuildScope {
            organization_id: None,
            days: None,
        };
        for statement in rebuild(backend, &everything) {
            db.execute_unprepared(&statement).await?;
        }
        // Triggers last: the backfill above writes no rows they would count.
        db.execute_unprepared(&create_triggers(backend)).await?;
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_BATCH_TRIGGER, &batch_trigger()].join("\n"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_BATCH_TRIGGER, PREVIOUS_TRIGGER].join("\n"),
        )
        .await?;
        let db = manager.get_connection();
        db.execute_unprepared(drop_triggers(backend)).await?;
        db.execute_unprepared(DROP_TABLES).await.map(|_| ())
    }
}

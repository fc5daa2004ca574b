//! Cancellation reasons keep the language they are written in (ISO 639-1: "en", "de", "fr",
//! "es"), detected when the reason is read; reasons read before have none (NULL). On SQLite
//! the outcome recorder's batch view (`m20261130_000006_outcome_recorder_batches`) gets a
//! trigger that writes it: a reason's row is now organization id, end user id, target id,
//! reason, suggested action, category, confidence, sentiment, language, created at, and for
//! a reason that opens a ticket its number in the batch, the ticket's email and priority.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;
use crate::m20261130_000006_outcome_recorder_batches::TRIGGER as PREVIOUS_TRIGGER;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADD_COLUMN: &str = "ALTER TABLE cancellation_reasons ADD COLUMN language TEXT";

const DROP_COLUMN: &str = "ALTER TABLE cancellation_reasons DROP COLUMN language";

const DROP_TRIGGER: &str = "DROP TRIGGER IF EXISTS outcome_recorder_batch;";

pub(crate) const TRIGGER: &str = "\
CREATE TRIGGER outcome_recorder_batch INSTEAD OF INSERT ON outcome_recorder_batches BEGIN
    INSERT INTO impressions (organization_id, end_user_id, target_id, trigger, mrr_e4,
        offer_ids, experiment_id, experiment_arm, created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8
    FROM jsonb_each(NEW.impressions) AS r;
    INSERT INTO experiment_assignments (organization_id, experiment_id, end_user_id, arm,
        created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4
    FROM jsonb_each(NEW.assignments) AS r WHERE 1
    ON CONFLICT (experiment_id, end_user_id) DO NOTHING;
    INSERT INTO outcomes (organization_id, offer_id, end_user_id, status, mrr_e4, source,
        experiment_id, experiment_arm, created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8
    FROM jsonb_each(NEW.outcomes) AS r;
    INSERT INTO support_tickets (id, organization_id, end_user_id, user_email, target_id,
        priority, reason, category, sentiment, status, delivery_status, delivery_attempts,
        created_at, updated_at)
    SELECT NEW.first_ticket_id + (r.value ->> 10) - 1, r.value ->> 0, r.value ->> 1,
        r.value ->> 11, r.value ->> 2, r.value ->> 12, r.value ->> 3, r.value ->> 5,
        r.value ->> 7, 'open',
        CASE WHEN (r.value ->> 0) IN (SELECT value FROM jsonb_each(NEW.webhook_organizations))
            THEN 'pending' ELSE 'none' END,
        0, r.value ->> 9, r.value ->> 9
    FROM jsonb_each(NEW.reasons) AS r
    WHERE (r.value ->> 10) IS NOT NULL;
    INSERT INTO cancellation_reasons (organization_id, end_user_id, target_id, reason,
        suggested_action, category, confidence, sentiment, language, ticket_id, created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8,
        NEW.first_ticket_id + (r.value ->> 10) - 1, r.value ->> 9
    FROM jsonb_each(NEW.reasons) AS r;
END;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(ADD_COLUMN)
            .await?;
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_TRIGGER, TRIGGER].join("\n"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(
            DbBackend::Sqlite,
            manager,
            &[DROP_TRIGGER, PREVIOUS_TRIGGER].join("\n"),
        )
        .await?;
        manager
            .get_connection()
            .execute_unprepared(DROP_COLUMN)
            .await
            .map(|_| ())
    }
}

//! SQLite only: a view that takes a whole group commit of the outcome recorder as one row —
//! impressions, experiment assignments, outcomes, cancellation reasons and the support
//! tickets they open — whose INSTEAD OF trigger writes every table. Any batch is then one
//! statement, so one transaction and one result handed back by the connection's thread; as a
//! transaction of separate statements (BEGIN, the tickets, the reasons, COMMIT, say) each
//! statement's result woke the waiting task, which on two busy cores took the core from the
//! writer at each hand-off (sentiment with tickets ~15 k req/s against ~21 k for reasons that
//! open none). PostgreSQL writes its batches as single statements already (arrays,
//! data-modifying CTEs) and gets nothing here.
//!
//! Each column but two is a JSON array of rows, each row an array of the table's values in
//! the order the trigger names them, `created_at` last for all but reasons. A reason's row is
//! organization id, end user id, target id, reason, suggested action, category, confidence,
//! sentiment, created at, and for a reason that opens a ticket its number in the batch
//! (1, 2, …), the ticket's email and priority. `first_ticket_id` is the id the batch's first
//! ticket takes (ticket `n` takes `first_ticket_id + n - 1`); `webhook_organizations`, a JSON
//! array of the batch's organizations that deliver tickets to a webhook (their tickets await
//! delivery). `jsonb_each` hands each row over as JSONB, which `->>` reads without parsing
//! (with `json_each` each row was JSON text that every `->>` parsed again: a tenth of the
//! service's CPU under sentiment requests).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const VIEW: &str = "\
CREATE VIEW outcome_recorder_batches (impressions, assignments, outcomes, reasons, \
    first_ticket_id, webhook_organizations) AS \
    SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;";

/// The view's trigger as this migration wrote it (`m20261206_000001_reason_language`
/// replaces it, and puts it back when undone).
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
    SELECT NEW.first_ticket_id + (r.value ->> 9) - 1, r.value ->> 0, r.value ->> 1,
        r.value ->> 10, r.value ->> 2, r.value ->> 11, r.value ->> 3, r.value ->> 5,
        r.value ->> 7, 'open',
        CASE WHEN (r.value ->> 0) IN (SELECT value FROM jsonb_each(NEW.webhook_organizations))
            THEN 'pending' ELSE 'none' END,
        0, r.value ->> 8, r.value ->> 8
    FROM jsonb_each(NEW.reasons) AS r
    WHERE (r.value ->> 9) IS NOT NULL;
    INSERT INTO cancellation_reasons (organization_id, end_user_id, target_id, reason,
        suggested_action, category, confidence, sentiment, ticket_id, created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5, r.value ->> 6, r.value ->> 7,
        NEW.first_ticket_id + (r.value ->> 9) - 1, r.value ->> 8
    FROM jsonb_each(NEW.reasons) AS r;
END;";

const DOWN: &str = "\
DROP TRIGGER IF EXISTS outcome_recorder_batch;
DROP VIEW IF EXISTS outcome_recorder_batches;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, &[VIEW, TRIGGER].join("\n")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, DOWN).await
    }
}

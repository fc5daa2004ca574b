//! SQLite only: a view that takes the OutcomeRecorder's rows (impressions, experiment
//! assignments, outcomes, cancellation reasons), whose INSTEAD OF triggers write each to its
//! table. A batch of any mix of them is then one INSERT into the view: one statement, one
//! transaction, one result handed back by the connection's thread (see
//! `m20261130_000003_payment_health_events`). PostgreSQL gets nothing here.
use sea_orm_migration::prelude::*;

use crate::m20261130_000003_payment_health_events::run_on_sqlite;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `kind` is `impression`, `assignment`, `outcome` or `reason`; the other columns are those
/// of the kind's table (`experiment_arm` is an assignment's arm), `at` its `created_at`.
const UP: &str = "\
CREATE VIEW cancel_flow_records \
    (kind, organization_id, end_user_id, target_id, intercept_trigger, mrr_e4, offer_ids, \
     experiment_id, experiment_arm, offer_id, status, source, reason, suggested_action, \
     category, confidence, sentiment, ticket_id, at) AS \
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
        NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
CREATE TRIGGER cancel_flow_impression INSTEAD OF INSERT ON cancel_flow_records \
WHEN NEW.kind = 'impression' BEGIN
    INSERT INTO impressions (organization_id, end_user_id, target_id, \"trigger\", mrr_e4,
        offer_ids, experiment_id, experiment_arm, created_at)
    VALUES (NEW.organization_id, NEW.end_user_id, NEW.target_id, NEW.intercept_trigger,
        NEW.mrr_e4, NEW.offer_ids, NEW.experiment_id, NEW.experiment_arm, NEW.at);
END;
CREATE TRIGGER cancel_flow_assignment INSTEAD OF INSERT ON cancel_flow_records \
WHEN NEW.kind = 'assignment' BEGIN
    INSERT INTO experiment_assignments (organization_id, experiment_id, end_user_id, arm,
        created_at)
    VALUES (NEW.organization_id, NEW.experiment_id, NEW.end_user_id, NEW.experiment_arm,
        NEW.at)
    ON CONFLICT (experiment_id, end_user_id) DO NOTHING;
END;
CREATE TRIGGER cancel_flow_outcome INSTEAD OF INSERT ON cancel_flow_records \
WHEN NEW.kind = 'outcome' BEGIN
    INSERT INTO outcomes (organization_id, offer_id, end_user_id, status, mrr_e4, source,
        experiment_id, experiment_arm, created_at)
    VALUES (NEW.organization_id, NEW.offer_id, NEW.end_user_id, NEW.status, NEW.mrr_e4,
        NEW.source, NEW.experiment_id, NEW.experiment_arm, NEW.at);
END;
CREATE TRIGGER cancel_flow_reason INSTEAD OF INSERT ON cancel_flow_records \
WHEN NEW.kind = 'reason' BEGIN
    INSERT INTO cancellation_reasons (organization_id, end_user_id, target_id, reason,
        suggested_action, category, confidence, sentiment, ticket_id, created_at)
    VALUES (NEW.organization_id, NEW.end_user_id, NEW.target_id, NEW.reason,
        NEW.suggested_action, NEW.category, NEW.confidence, NEW.sentiment, NEW.ticket_id,
        NEW.at);
END;";

const DOWN: &str = "\
DROP TRIGGER IF EXISTS cancel_flow_reason;
DROP TRIGGER IF EXISTS cancel_flow_outcome;
DROP TRIGGER IF EXISTS cancel_flow_assignment;
DROP TRIGGER IF EXISTS cancel_flow_impression;
DROP VIEW IF EXISTS cancel_flow_records;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_sqlite(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_sqlite(manager, DOWN).await
    }
}

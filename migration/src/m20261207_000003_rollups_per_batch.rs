//! Outcomes and cancellation reasons roll up per batch, not per row (issue 33: the write
//! endpoints paid for the rollups). The statements are `crate::batch_rollups`; the rules are
//! unchanged.
//!
//! PostgreSQL: a row trigger only decides each outcome's attribution (before the insert, as
//! before), and a statement trigger rolls up the statement's rows from its transition table.
//! SQLite: the batch view's trigger stores the attribution with each outcome it inserts
//! (rather than a row trigger's UPDATE of the row just written), and the outcomes' row
//! triggers read it from the row; the first migration's triggers now run only for outcomes
//! written elsewhere (the saves of applied offers, `source = 'apply_offer'`). Reasons: a
//! statement trigger on PostgreSQL; on SQLite, where the batch view writes every reason, one
//! grouped statement in its trigger.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::analytics_rollups::{
    attribution, create_triggers, drop_triggers, sqlite_attributed_outcome_triggers,
    sqlite_triggers,
};
use crate::batch_rollups::{batch_source, batch_statements, reason_statement};
use crate::m20261130_000003_payment_health_events::run_on;
use crate::m20261207_000001_analytics_rollups::batch_trigger as PREVIOUS_BATCH_TRIGGER;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROP_BATCH_TRIGGER: &str = "DROP TRIGGER IF EXISTS outcome_recorder_batch;";

/// The outcomes' insert of the previous batch trigger.
const PREVIOUS_OUTCOMES_INSERT: &str =
    "INSERT INTO outcomes (organization_id, offer_id, end_user_id, status, mrr_e4, source,
        experiment_id, experiment_arm, created_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, r.value ->> 3, r.value ->> 4,
        r.value ->> 5, r.value ->> 6, r.value ->> 7, r.value ->> 8
    FROM jsonb_each(NEW.outcomes) AS r;";

/// SQLite: the batch view's trigger, whose outcomes carry their attribution, and whose
/// reasons are rolled up together, right after they are inserted (the statement holds
/// SQLite's write lock, so they are the highest ids, one per element of the batch).
pub(crate) fn sqlite_batch_trigger() -> String {
    let backend = DbBackend::Sqlite;
    let (target, trigger) = attribution(backend, "x.org", "x.usr", "x.at");
    let insert = format!(
        "INSERT INTO outcomes (organization_id, offer_id, end_user_id, status, mrr_e4, source,
        experiment_id, experiment_arm, created_at, attributed_target_id, attributed_trigger)
    SELECT x.org, x.offer, x.usr, x.status, x.mrr, x.source, x.exp, x.arm, x.at,
        COALESCE({target}, (SELECT f.target_id FROM offers f WHERE f.id = x.offer)), {trigger}
    FROM (SELECT r.key AS k, r.value ->> 0 AS org, r.value ->> 1 AS offer,
            r.value ->> 2 AS usr, r.value ->> 3 AS status, r.value ->> 4 AS mrr,
            r.value ->> 5 AS source, r.value ->> 6 AS exp, r.value ->> 7 AS arm,
            r.value ->> 8 AS at
        FROM jsonb_each(NEW.outcomes) AS r) x WHERE 1 = 1 ORDER BY x.k;"
    );
    let reasons = reason_statement(
        backend,
        "cancellation_reasons WHERE id > (SELECT MAX(id) FROM cancellation_reasons) \
         - json_array_length(NEW.reasons)",
    );
    let previous = PREVIOUS_BATCH_TRIGGER();
    assert!(previous.contains(PREVIOUS_OUTCOMES_INSERT));
    assert!(previous.ends_with(REASONS_INSERT_END));
    previous
        .replacen(PREVIOUS_OUTCOMES_INSERT, &insert, 1)
        .replace(
            REASONS_INSERT_END,
            &format!("FROM jsonb_each(NEW.reasons) AS r;\n    {reasons};\nEND;"),
        )
}

/// The end of the previous batch trigger: its last statement inserts the reasons.
const REASONS_INSERT_END: &str = "FROM jsonb_each(NEW.reasons) AS r;\nEND;";

/// SQLite's row triggers: the first migration's for the outcomes the batch view does not
/// write, leaner ones for those it writes with their attribution; none for reasons.
fn sqlite_row_triggers() -> String {
    format!(
        "{}\nDROP TRIGGER analytics_reason;\n{}",
        sqlite_triggers(" AND NEW.source <> 'outcome'"),
        sqlite_attributed_outcome_triggers(" AND NEW.source = 'outcome'")
    )
}

const SQLITE_DROP_ATTRIBUTED: &str = "DROP TRIGGER IF EXISTS analytics_attributed_outcome;
DROP TRIGGER IF EXISTS analytics_attributed_outcome_anonymous;
DROP TRIGGER IF EXISTS analytics_attributed_outcome_arm;";

fn postgres_triggers() -> String {
    let backend = DbBackend::Postgres;
    let rollups = batch_statements(backend, &batch_source("new_outcomes")).join(";\n    ");
    let reasons = reason_statement(backend, "new_reasons");
    format!(
        "CREATE FUNCTION analytics_outcome_attribution() RETURNS trigger LANGUAGE plpgsql AS $fn$
{POSTGRES_ATTRIBUTION}
$fn$;
CREATE TRIGGER analytics_outcome_attribution BEFORE INSERT ON outcomes
    FOR EACH ROW EXECUTE FUNCTION analytics_outcome_attribution();
CREATE FUNCTION analytics_outcomes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {rollups};
    RETURN NULL;
END $fn$;
CREATE TRIGGER analytics_outcomes AFTER INSERT ON outcomes
    REFERENCING NEW TABLE AS new_outcomes FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_outcomes();
CREATE FUNCTION analytics_reasons() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {reasons};
    RETURN NULL;
END $fn$;
CREATE TRIGGER analytics_reasons AFTER INSERT ON cancellation_reasons
    REFERENCING NEW TABLE AS new_reasons FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_reasons();"
    )
}

/// PostgreSQL: an outcome's attribution, one index lookup in the usual case (the first
/// migration's expression, two `CASE`s of three subqueries each, cost an executor start for
/// each subquery, twice per row). The latest intercept, unless it came after the outcome (a
/// write out of time order: then the window's impressions, by time), and only within the 24
/// hours before it; else the offer's target, trigger unknown.
const POSTGRES_ATTRIBUTION: &str = "DECLARE
    latest RECORD;
BEGIN
    IF NEW.end_user_id IS NOT NULL THEN
        SELECT l.created_at, l.target_id, l.trig INTO latest FROM latest_intercepts l
        WHERE l.organization_id = NEW.organization_id AND l.end_user_id = NEW.end_user_id;
        IF FOUND AND latest.created_at > NEW.created_at THEN
            SELECT i.target_id, i.\"trigger\" INTO NEW.attributed_target_id, NEW.attributed_trigger
            FROM impressions i WHERE i.organization_id = NEW.organization_id
                AND i.created_at >= NEW.created_at - INTERVAL '24 hours'
                AND i.created_at <= NEW.created_at AND i.end_user_id = NEW.end_user_id
            ORDER BY i.created_at DESC, i.id DESC LIMIT 1;
        ELSIF FOUND AND latest.created_at >= NEW.created_at - INTERVAL '24 hours' THEN
            NEW.attributed_target_id := latest.target_id;
            NEW.attributed_trigger := latest.trig;
        END IF;
    END IF;
    IF NEW.attributed_target_id IS NULL THEN
        NEW.attributed_trigger := NULL;
        SELECT f.target_id INTO NEW.attributed_target_id FROM offers f WHERE f.id = NEW.offer_id;
    END IF;
    RETURN NEW;
END";

const POSTGRES_DROP: &str = "DROP TRIGGER IF EXISTS analytics_outcome_attribution ON outcomes;
DROP TRIGGER IF EXISTS analytics_outcomes ON outcomes;
DROP FUNCTION IF EXISTS analytics_outcome_attribution();
DROP FUNCTION IF EXISTS analytics_outcomes();
DROP TRIGGER IF EXISTS analytics_reasons ON cancellation_reasons;
DROP FUNCTION IF EXISTS analytics_reasons();";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "DROP TRIGGER IF EXISTS analytics_outcome ON outcomes;
DROP FUNCTION IF EXISTS analytics_outcome();
DROP TRIGGER IF EXISTS analytics_reason ON cancellation_reasons;
DROP FUNCTION IF EXISTS analytics_reason();",
                )
                .await?;
                db.execute_unprepared(&postgres_triggers()).await?;
                Ok(())
            }
            _ => {
                run_on(
                    DbBackend::Sqlite,
                    manager,
                    &[
                        drop_triggers(DbBackend::Sqlite),
                        &sqlite_row_triggers(),
                        DROP_BATCH_TRIGGER,
                        &sqlite_batch_trigger(),
                    ]
                    .join("\n"),
                )
                .await
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES_DROP).await?;
                db.execute_unprepared(drop_triggers(DbBackend::Postgres))
                    .await?;
                db.execute_unprepared(&create_triggers(DbBackend::Postgres))
                    .await?;
                Ok(())
            }
            _ => {
                run_on(
                    DbBackend::Sqlite,
                    manager,
                    &[
                        drop_triggers(DbBackend::Sqlite),
                        SQLITE_DROP_ATTRIBUTED,
                        &create_triggers(DbBackend::Sqlite),
                        DROP_BATCH_TRIGGER,
                        &PREVIOUS_BATCH_TRIGGER(),
                    ]
                    .join("\n"),
                )
                .await
            }
        }
    }
}

//! PostgreSQL: batches of outcomes committing at once take turns on the first records they
//! change. The per-batch rollups (`m20261207_000003_rollups_per_batch`) take back what a first
//! record contributed and add what it contributes after the batch; two batches in flight
//! together (several instances, an applied offer's save beside the client's outcome, or
//! `postgres_commits_in_flight` above one) both read the record as it stood before either, so
//! its contribution was taken back twice, or a new record's added twice (a test saw a day's
//! saves at 0 and its saved MRR negative). Each batch now first takes a transaction-level
//! advisory lock per end user, offer and status (and per experiment, end user and arm) it
//! holds, in one order; in READ COMMITTED every later statement then reads the records as the
//! batch before it committed them. Batches of other end users do not wait. The rollups of
//! anonymous outcomes and of experiment arms run only for batches that hold any, and the
//! known end users' five statements are one (`postgres_known_outcomes_statement`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::batch_rollups::{batch_source, batch_statements, postgres_known_outcomes_statement};
use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The advisory locks' class (their first key): first records, and experiments' first saves.
const FIRST_RECORDS: i32 = 330_001;
const ARM_FIRST_SAVES: i32 = 330_002;

fn function(body: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION analytics_outcomes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
{body}
    RETURN NULL;
END $fn$;"
    )
}

fn statements() -> Vec<String> {
    batch_statements(DbBackend::Postgres, &batch_source("new_outcomes"))
}

fn in_turn() -> String {
    let all = statements();
    let known = postgres_known_outcomes_statement(&batch_source("new_outcomes"));
    let anonymous = &all[5];
    let arms = all[6..].join(";\n        ");
    format!(
        "    PERFORM pg_advisory_xact_lock(k.class, k.key) FROM (
        SELECT DISTINCT {FIRST_RECORDS} AS class, hashtext(concat_ws(':', organization_id,
            end_user_id, offer_id, status)) AS key
        FROM new_outcomes WHERE end_user_id IS NOT NULL
        UNION
        SELECT {ARM_FIRST_SAVES}, hashtext(concat_ws(':', experiment_id, end_user_id,
            experiment_arm))
        FROM new_outcomes WHERE end_user_id IS NOT NULL AND status = 'saved'
            AND experiment_id IS NOT NULL AND experiment_arm IS NOT NULL
        ORDER BY 1, 2) k;
    IF EXISTS (SELECT 1 FROM new_outcomes WHERE end_user_id IS NOT NULL) THEN
        {known};
    END IF;
    IF EXISTS (SELECT 1 FROM new_outcomes WHERE end_user_id IS NULL) THEN
        {anonymous};
    END IF;
    IF EXISTS (SELECT 1 FROM new_outcomes WHERE status = 'saved'
            AND experiment_id IS NOT NULL AND experiment_arm IS NOT NULL) THEN
        {arms};
    END IF;"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, &function(&in_turn())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let previous = format!("    {};", statements().join(";\n    "));
        run_on(DbBackend::Postgres, manager, &function(&previous)).await
    }
}

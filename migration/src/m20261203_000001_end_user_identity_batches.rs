//! SQLite only: a view that takes a whole batch of end-user identity writes as one row — the
//! end users seen for the first time, the identifiers known end users gain, and the
//! announcement of those changes — whose INSTEAD OF trigger writes them. A batch of first
//! sightings is then one statement on the writers' kept connection, taking its turn beside
//! the other group commits, instead of a transaction per new end user (PostgreSQL writes the
//! same batch as one statement with data-modifying CTEs and needs nothing here).
//!
//! `created`: a JSON array of `[organization id, email, stripe customer id]`; `completed`: of
//! `[end user id, email to add, stripe customer id to add]` (either may be null: a completion
//! only fills an identifier the row lacks); `announcements`: of change-log payloads; `at`: the
//! time written. A new end user that conflicts with one already stored (another writer
//! created it first) is skipped: the writer reads the row back afterwards.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "\
CREATE VIEW end_user_identity_batches (created, completed, announcements, at) AS \
    SELECT NULL, NULL, NULL, NULL WHERE 0;
CREATE TRIGGER end_user_identity_batch INSTEAD OF INSERT ON end_user_identity_batches BEGIN
    INSERT INTO end_users (organization_id, email, stripe_customer_id, needs_payment_update,
        payment_failures, created_at, updated_at)
    SELECT r.value ->> 0, r.value ->> 1, r.value ->> 2, 0, 0, NEW.at, NEW.at
    FROM jsonb_each(NEW.created) AS r WHERE 1
    ON CONFLICT DO NOTHING;
    UPDATE end_users SET
        email = COALESCE(email, (SELECT c.value ->> 1 FROM jsonb_each(NEW.completed) AS c
            WHERE c.value ->> 0 = end_users.id)),
        stripe_customer_id = COALESCE(stripe_customer_id, (SELECT c.value ->> 2
            FROM jsonb_each(NEW.completed) AS c WHERE c.value ->> 0 = end_users.id)),
        updated_at = NEW.at
    WHERE id IN (SELECT c.value ->> 0 FROM jsonb_each(NEW.completed) AS c);
    INSERT INTO end_user_changes (payload, created_at)
    SELECT a.value, NEW.at FROM jsonb_each(NEW.announcements) AS a;
END;";

const DOWN: &str = "\
DROP TRIGGER IF EXISTS end_user_identity_batch;
DROP VIEW IF EXISTS end_user_identity_batches;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, DOWN).await
    }
}

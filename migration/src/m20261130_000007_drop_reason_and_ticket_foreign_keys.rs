//! PostgreSQL only: cancellation reasons and support tickets lose their foreign keys to
//! organizations, as dunning episodes did (`m20261130_000005`) and impressions and outcomes
//! never had them. Their one writer is the outcome recorder's statement, which takes the
//! organization from the request's verified API key, and nothing deletes organizations; yet
//! each row ran a referential check, a query that locks the organization's row (a batch of
//! twelve reasons and two tickets: 14 checks, a quarter of the statement's execution time,
//! `EXPLAIN ANALYZE`). SQLite keeps them: its checks are index probes inside the writer's own
//! statement, and dropping a constraint there means rebuilding the table.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "\
ALTER TABLE cancellation_reasons \
    DROP CONSTRAINT IF EXISTS cancellation_reasons_organization_id_fkey; \
ALTER TABLE support_tickets \
    DROP CONSTRAINT IF EXISTS support_tickets_organization_id_fkey;";

const DOWN: &str = "\
ALTER TABLE cancellation_reasons \
    ADD CONSTRAINT cancellation_reasons_organization_id_fkey FOREIGN KEY (organization_id) \
        REFERENCES organizations (id) ON DELETE CASCADE; \
ALTER TABLE support_tickets \
    ADD CONSTRAINT support_tickets_organization_id_fkey FOREIGN KEY (organization_id) \
        REFERENCES organizations (id) ON DELETE CASCADE;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, DOWN).await
    }
}

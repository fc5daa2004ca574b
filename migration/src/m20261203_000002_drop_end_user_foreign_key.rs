//! PostgreSQL only: end users lose their foreign key to organizations, as dunning episodes,
//! cancellation reasons and support tickets did (`m20261130_000005`, `m20261130_000007`).
//! Most cancel flows meet their end user for the first time, so end users are inserted about
//! as often as impressions; each insert ran a referential check, a query locking the
//! organization's row, although every writer takes the organization from an authenticated
//! key and nothing deletes organizations. SQLite keeps it (its checks are index probes inside
//! the writer's own statement, and dropping one rebuilds the table).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "ALTER TABLE end_users DROP CONSTRAINT IF EXISTS end_users_organization_id_fkey";

const DOWN: &str = "ALTER TABLE end_users ADD CONSTRAINT end_users_organization_id_fkey \
    FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, DOWN).await
    }
}

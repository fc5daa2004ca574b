//! PostgreSQL only: dunning episodes lose their foreign keys to organizations and end users,
//! as impressions and outcomes never had them. The only writer of episodes is the payment
//! health statement, which takes both ids from the end user it has just updated, and nothing
//! deletes organizations or end users; yet each episode a failure opened ran two referential
//! checks, each a query that locks the parent row (dunning with new episodes +10 % req/s on
//! average over four A/B rounds, PostgreSQL CPU per failure down by about a third). SQLite
//! cannot drop a constraint without rebuilding the table, and its checks are index probes
//! inside the writer's own statement: it keeps them.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "ALTER TABLE dunning_episodes \
    DROP CONSTRAINT IF EXISTS dunning_episodes_organization_id_fkey, \
    DROP CONSTRAINT IF EXISTS dunning_episodes_end_user_id_fkey";

const DOWN: &str = "ALTER TABLE dunning_episodes \
    ADD CONSTRAINT dunning_episodes_organization_id_fkey FOREIGN KEY (organization_id) \
        REFERENCES organizations (id) ON DELETE CASCADE, \
    ADD CONSTRAINT dunning_episodes_end_user_id_fkey FOREIGN KEY (end_user_id) \
        REFERENCES end_users (id) ON DELETE CASCADE";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Postgres, manager, DOWN).await
    }
}

//! Outcomes are indexed by end user only when they are acceptances. The eligibility checks,
//! the index's only reader, look for an end user's saved outcomes the client reported; an
//! index over every outcome made each abandon write an entry at a random place too.
use sea_orm_migration::prelude::*;

const FULL: &str = "idx_outcomes_org_end_user";
const ACCEPTED: &str = "idx_outcomes_org_end_user_accepted";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Partial indexes are not in SeaQuery's portable builder; this statement is the same
        // on SQLite and PostgreSQL. The predicate must match the eligibility query's text.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {ACCEPTED} ON outcomes (organization_id, end_user_id) \
                 WHERE status = 'saved' AND source = 'outcome'"
            ))
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(FULL)
                    .table(Outcomes::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(FULL)
                    .table(Outcomes::Table)
                    .col(Outcomes::OrganizationId)
                    .col(Outcomes::EndUserId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(ACCEPTED)
                    .table(Outcomes::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    OrganizationId,
    EndUserId,
}

//! Outcomes lose their (organization, status, time) index. No query reads it any more:
//! analytics reads an organization's outcomes by time (`idx_outcomes_org_created`), the
//! eligibility checks by offer or by end user, experiment results by experiment. Each
//! outcome wrote an entry in it all the same (one of six b-tree inserts per outcome).
use sea_orm_migration::prelude::*;

const INDEX: &str = "idx_outcomes_org_status_created";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
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
                    .name(INDEX)
                    .table(Outcomes::Table)
                    .col(Outcomes::OrganizationId)
                    .col(Outcomes::Status)
                    .col(Outcomes::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    OrganizationId,
    Status,
    CreatedAt,
}

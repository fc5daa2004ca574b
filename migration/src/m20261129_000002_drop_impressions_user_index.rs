//! Impressions lose their per-end-user index. Every intercept wrote an entry at a random
//! place in it (a page write per impression, most of intercept's cost on SQLite); analytics,
//! its only reader, now attributes outcomes to impressions read by time within a bounded
//! window (`idx_impressions_org_created`).
use sea_orm_migration::prelude::*;

const INDEX: &str = "idx_impressions_org_user_created";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(Impressions::Table)
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
                    .table(Impressions::Table)
                    .col(Impressions::OrganizationId)
                    .col(Impressions::EndUserId)
                    .col(Impressions::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Impressions {
    Table,
    OrganizationId,
    EndUserId,
    CreatedAt,
}

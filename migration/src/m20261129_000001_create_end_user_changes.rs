//! End-user changes announced between instances. On SQLite, which has no notifications,
//! each transaction that changes end users also appends a row naming them, and every
//! instance reads the new rows (PostgreSQL uses LISTEN/NOTIFY and leaves the table
//! empty).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EndUserChanges::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EndUserChanges::Id))
                    .col(text(EndUserChanges::Payload))
                    .col(timestamp_with_time_zone(EndUserChanges::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // Old rows are deleted by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_end_user_changes_created")
                    .table(EndUserChanges::Table)
                    .col(EndUserChanges::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EndUserChanges::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EndUserChanges {
    Table,
    Id,
    Payload,
    CreatedAt,
}

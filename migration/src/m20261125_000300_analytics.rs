//! Analytics: dunning episodes (when an end user was flagged, and whether and when a payment
//! success recovered them), and the indexes the analytics summary reads through.
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_tenants::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DunningEpisodes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DunningEpisodes::Id))
                    .col(big_integer(DunningEpisodes::OrganizationId))
                    .col(big_integer(DunningEpisodes::EndUserId))
                    .col(timestamp_with_time_zone(DunningEpisodes::StartedAt))
                    .col(timestamp_with_time_zone(DunningEpisodes::LastFailedAt))
                    .col(integer(DunningEpisodes::Failures).default(1))
                    .col(timestamp_with_time_zone_null(DunningEpisodes::RecoveredAt))
                    .col(string_len_null(DunningEpisodes::RecoveryEvent, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DunningEpisodes::Table, DunningEpisodes::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DunningEpisodes::Table, DunningEpisodes::EndUserId)
                            .to(EndUsers::Table, EndUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_dunning_episodes_org_started")
                    .table(DunningEpisodes::Table)
                    .col(DunningEpisodes::OrganizationId)
                    .col(DunningEpisodes::StartedAt)
                    .to_owned(),
            )
            .await?;
        // At most one open episode per end user. Partial indexes read the same on SQLite and
        // PostgreSQL.
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS idx_dunning_episodes_open \
             ON dunning_episodes (end_user_id) WHERE recovered_at IS NULL",
        )
        .await?;
        // End users flagged before this migration start with an open episode.
        db.execute_unprepared(
            "INSERT INTO dunning_episodes \
             (organization_id, end_user_id, started_at, last_failed_at, failures) \
             SELECT organization_id, id, first_failed_at, COALESCE(last_failed_at, first_failed_at), \
                    CASE WHEN payment_failures > 0 THEN payment_failures ELSE 1 END \
             FROM end_users WHERE first_failed_at IS NOT NULL",
        )
        .await?;
        // Attribution of an outcome to the end user's latest intercept reads impressions by
        // end user and time.
        manager
            .create_index(
                Index::create()
                    .name("idx_impressions_org_user_created")
                    .table(Impressions::Table)
                    .col(Impressions::OrganizationId)
                    .col(Impressions::EndUserId)
                    .col(Impressions::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outcomes_org_status_created")
                    .table(Outcomes::Table)
                    .col(Outcomes::OrganizationId)
                    .col(Outcomes::Status)
                    .col(Outcomes::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outcomes_org_status_created")
                    .table(Outcomes::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_impressions_org_user_created")
                    .table(Impressions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(DunningEpisodes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum DunningEpisodes {
    Table,
    Id,
    OrganizationId,
    EndUserId,
    StartedAt,
    LastFailedAt,
    Failures,
    RecoveredAt,
    RecoveryEvent,
}

#[derive(DeriveIden)]
enum EndUsers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Impressions {
    Table,
    OrganizationId,
    EndUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    OrganizationId,
    Status,
    CreatedAt,
}

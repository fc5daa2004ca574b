//! Experiments (A/B tests of offers), their assignments, and the organization's own settings
//! (eligibility defaults and experiment analysis defaults).
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
                    .table(Experiments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Experiments::Id))
                    .col(big_integer(Experiments::OrganizationId))
                    .col(string_len(Experiments::Name, 255))
                    .col(string_len(Experiments::TargetId, 255))
                    .col(string_len_null(Experiments::Trigger, 32))
                    .col(string_len(Experiments::Status, 16))
                    .col(text(Experiments::Arms))
                    .col(double(Experiments::Confidence))
                    .col(integer(Experiments::MinSampleSize))
                    .col(text_null(Experiments::ExperimentOnlyOfferIds))
                    .col(string_len_null(Experiments::PromotedArm, 64))
                    .col(timestamp_with_time_zone_null(Experiments::StartedAt))
                    .col(timestamp_with_time_zone_null(Experiments::StoppedAt))
                    .col(timestamp_with_time_zone(Experiments::CreatedAt))
                    .col(timestamp_with_time_zone(Experiments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Experiments::Table, Experiments::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_experiments_organization")
                    .table(Experiments::Table)
                    .col(Experiments::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExperimentAssignments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ExperimentAssignments::Id))
                    .col(big_integer(ExperimentAssignments::OrganizationId))
                    .col(big_integer(ExperimentAssignments::ExperimentId))
                    .col(big_integer_null(ExperimentAssignments::EndUserId))
                    .col(string_len(ExperimentAssignments::Arm, 64))
                    .col(timestamp_with_time_zone(ExperimentAssignments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ExperimentAssignments::Table,
                                ExperimentAssignments::ExperimentId,
                            )
                            .to(Experiments::Table, Experiments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A known end user is assigned once per experiment; anonymous calls (NULL end user)
        // get a row each, and NULLs never collide on either database.
        manager
            .create_index(
                Index::create()
                    .name("uq_experiment_assignments_user")
                    .table(ExperimentAssignments::Table)
                    .col(ExperimentAssignments::ExperimentId)
                    .col(ExperimentAssignments::EndUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_experiment_assignments_arm")
                    .table(ExperimentAssignments::Table)
                    .col(ExperimentAssignments::ExperimentId)
                    .col(ExperimentAssignments::Arm)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrganizationSettings::Table)
                    .if_not_exists()
                    .col(big_integer(OrganizationSettings::OrganizationId).primary_key())
                    .col(integer_null(OrganizationSettings::OfferCooldownDays))
                    .col(integer_null(OrganizationSettings::TypeCooldownDays))
                    .col(integer_null(OrganizationSettings::MaxRedemptionsPerUser))
                    .col(
                        boolean(OrganizationSettings::RequireSubscriptionForChanges).default(false),
                    )
                    .col(double(OrganizationSettings::ExperimentConfidence))
                    .col(integer(OrganizationSettings::ExperimentMinSampleSize))
                    .col(timestamp_with_time_zone(OrganizationSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                OrganizationSettings::Table,
                                OrganizationSettings::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrganizationSettings::Table.into_iden(),
            ExperimentAssignments::Table.into_iden(),
            Experiments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    OrganizationId,
    Name,
    TargetId,
    Trigger,
    Status,
    Arms,
    Confidence,
    MinSampleSize,
    ExperimentOnlyOfferIds,
    PromotedArm,
    StartedAt,
    StoppedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExperimentAssignments {
    Table,
    Id,
    OrganizationId,
    ExperimentId,
    EndUserId,
    Arm,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrganizationSettings {
    Table,
    OrganizationId,
    OfferCooldownDays,
    TypeCooldownDays,
    MaxRedemptionsPerUser,
    RequireSubscriptionForChanges,
    ExperimentConfidence,
    ExperimentMinSampleSize,
    UpdatedAt,
}

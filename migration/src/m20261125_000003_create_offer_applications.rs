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
                    .table(OfferApplications::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OfferApplications::Id))
                    .col(big_integer(OfferApplications::OrganizationId))
                    .col(big_integer(OfferApplications::OfferId))
                    .col(big_integer_null(OfferApplications::EndUserId))
                    .col(string_len(OfferApplications::StripeSubscriptionId, 255))
                    .col(string_len_uniq(OfferApplications::IdempotencyKey, 255))
                    .col(string_len(OfferApplications::Status, 16))
                    .col(integer(OfferApplications::Attempts).default(0))
                    .col(text_null(OfferApplications::LastError))
                    .col(text_null(OfferApplications::LastStripeError))
                    .col(big_integer_null(OfferApplications::MrrE4))
                    .col(text_null(OfferApplications::PlannedChange))
                    .col(timestamp_with_time_zone_null(
                        OfferApplications::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(OfferApplications::AppliedAt))
                    .col(timestamp_with_time_zone(OfferApplications::CreatedAt))
                    .col(timestamp_with_time_zone(OfferApplications::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OfferApplications::Table, OfferApplications::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The reconciler looks for unfinished applications by status.
        manager
            .create_index(
                Index::create()
                    .name("idx_offer_applications_status")
                    .table(OfferApplications::Table)
                    .col(OfferApplications::Status)
                    .col(OfferApplications::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_offer_applications_org")
                    .table(OfferApplications::Table)
                    .col(OfferApplications::OrganizationId)
                    .col(OfferApplications::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationAttempts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ApplicationAttempts::Id))
                    .col(big_integer(ApplicationAttempts::ApplicationId))
                    .col(integer(ApplicationAttempts::Attempt))
                    .col(string_len(ApplicationAttempts::Outcome, 16))
                    .col(text_null(ApplicationAttempts::Error))
                    .col(timestamp_with_time_zone(ApplicationAttempts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ApplicationAttempts::Table,
                                ApplicationAttempts::ApplicationId,
                            )
                            .to(OfferApplications::Table, OfferApplications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_application_attempts_application")
                    .table(ApplicationAttempts::Table)
                    .col(ApplicationAttempts::ApplicationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApplicationAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OfferApplications::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OfferApplications {
    Table,
    Id,
    OrganizationId,
    OfferId,
    EndUserId,
    StripeSubscriptionId,
    IdempotencyKey,
    Status,
    Attempts,
    LastError,
    LastStripeError,
    MrrE4,
    PlannedChange,
    NextAttemptAt,
    AppliedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApplicationAttempts {
    Table,
    Id,
    ApplicationId,
    Attempt,
    Outcome,
    Error,
    CreatedAt,
}

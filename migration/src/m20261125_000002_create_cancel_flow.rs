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
                    .table(EndUsers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EndUsers::Id))
                    .col(big_integer(EndUsers::OrganizationId))
                    .col(string_len_null(EndUsers::Email, 320))
                    .col(string_len_null(EndUsers::StripeCustomerId, 255))
                    .col(boolean(EndUsers::NeedsPaymentUpdate).default(false))
                    .col(integer(EndUsers::PaymentFailures).default(0))
                    .col(timestamp_with_time_zone_null(EndUsers::FirstFailedAt))
                    .col(timestamp_with_time_zone_null(EndUsers::LastFailedAt))
                    .col(timestamp_with_time_zone_null(EndUsers::LastSuccessAt))
                    .col(string_len_null(EndUsers::LastSuccessEvent, 64))
                    .col(timestamp_with_time_zone(EndUsers::CreatedAt))
                    .col(timestamp_with_time_zone(EndUsers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EndUsers::Table, EndUsers::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One end user per email and per Stripe customer within an organization
        // (NULLs do not collide on either database).
        manager
            .create_index(
                Index::create()
                    .name("uq_end_users_org_email")
                    .table(EndUsers::Table)
                    .col(EndUsers::OrganizationId)
                    .col(EndUsers::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_end_users_org_customer")
                    .table(EndUsers::Table)
                    .col(EndUsers::OrganizationId)
                    .col(EndUsers::StripeCustomerId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Offers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Offers::Id))
                    .col(big_integer(Offers::OrganizationId))
                    .col(string_len(Offers::Type, 32))
                    .col(double(Offers::Value))
                    .col(string_len(Offers::Label, 255))
                    .col(text(Offers::Config))
                    .col(string_len_null(Offers::TargetId, 255))
                    .col(text(Offers::Triggers))
                    .col(big_integer_null(Offers::MinMrrE4))
                    .col(big_integer_null(Offers::MaxMrrE4))
                    .col(integer(Offers::Priority).default(0))
                    .col(boolean(Offers::Active).default(true))
                    .col(timestamp_with_time_zone(Offers::CreatedAt))
                    .col(timestamp_with_time_zone(Offers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Offers::Table, Offers::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_offers_organization")
                    .table(Offers::Table)
                    .col(Offers::OrganizationId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Impressions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Impressions::Id))
                    .col(big_integer(Impressions::OrganizationId))
                    .col(big_integer_null(Impressions::EndUserId))
                    .col(string_len(Impressions::TargetId, 255))
                    .col(string_len_null(Impressions::Trigger, 32))
                    .col(big_integer_null(Impressions::MrrE4))
                    .col(text(Impressions::OfferIds))
                    .col(timestamp_with_time_zone(Impressions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_impressions_org_created")
                    .table(Impressions::Table)
                    .col(Impressions::OrganizationId)
                    .col(Impressions::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outcomes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Outcomes::Id))
                    .col(big_integer(Outcomes::OrganizationId))
                    .col(big_integer(Outcomes::OfferId))
                    .col(big_integer_null(Outcomes::EndUserId))
                    .col(string_len(Outcomes::Status, 16))
                    .col(big_integer_null(Outcomes::MrrE4))
                    .col(string_len(Outcomes::Source, 16))
                    .col(timestamp_with_time_zone(Outcomes::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outcomes_org_created")
                    .table(Outcomes::Table)
                    .col(Outcomes::OrganizationId)
                    .col(Outcomes::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outcomes_offer")
                    .table(Outcomes::Table)
                    .col(Outcomes::OfferId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Outcomes::Table.into_iden(),
            Impressions::Table.into_iden(),
            Offers::Table.into_iden(),
            EndUsers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum EndUsers {
    Table,
    Id,
    OrganizationId,
    Email,
    StripeCustomerId,
    NeedsPaymentUpdate,
    PaymentFailures,
    FirstFailedAt,
    LastFailedAt,
    LastSuccessAt,
    LastSuccessEvent,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Offers {
    Table,
    Id,
    OrganizationId,
    Type,
    Value,
    Label,
    Config,
    TargetId,
    Triggers,
    MinMrrE4,
    MaxMrrE4,
    Priority,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Impressions {
    Table,
    Id,
    OrganizationId,
    EndUserId,
    TargetId,
    Trigger,
    MrrE4,
    OfferIds,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    Id,
    OrganizationId,
    OfferId,
    EndUserId,
    Status,
    MrrE4,
    Source,
    CreatedAt,
}

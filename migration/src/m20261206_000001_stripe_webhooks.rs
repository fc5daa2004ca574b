//! Stripe's webhooks in: each organization's endpoint (a random id in the URL), its signing
//! secrets (sealed like the Stripe key; two may be active during a rotation), and every event
//! received, unique per organization so that redeliveries change nothing. The events are
//! also the facts save validation reads (a cancellation and when Stripe says it happened).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeWebhookEndpoints::Table)
                    .if_not_exists()
                    .col(big_integer(StripeWebhookEndpoints::OrganizationId).primary_key())
                    .col(string_len_uniq(StripeWebhookEndpoints::EndpointId, 64))
                    .col(timestamp_with_time_zone(StripeWebhookEndpoints::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeWebhookSecrets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StripeWebhookSecrets::Id))
                    .col(big_integer(StripeWebhookSecrets::OrganizationId))
                    .col(string_len_uniq(StripeWebhookSecrets::SecretId, 64))
                    .col(text(StripeWebhookSecrets::SecretCiphertext))
                    .col(timestamp_with_time_zone(StripeWebhookSecrets::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        StripeWebhookSecrets::RevokedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_webhook_secrets_organization")
                    .table(StripeWebhookSecrets::Table)
                    .col(StripeWebhookSecrets::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StripeEvents::Id))
                    .col(big_integer(StripeEvents::OrganizationId))
                    .col(string_len(StripeEvents::EventId, 255))
                    .col(string_len(StripeEvents::EventType, 255))
                    .col(timestamp_with_time_zone(StripeEvents::EventCreated))
                    .col(string_len_null(StripeEvents::StripeCustomerId, 255))
                    .col(string_len_null(StripeEvents::StripeSubscriptionId, 255))
                    .col(string_len(StripeEvents::Effect, 32))
                    .col(string_len_null(StripeEvents::CancellationReason, 64))
                    .col(string_len_null(StripeEvents::CancellationFeedback, 64))
                    .col(text_null(StripeEvents::CancellationComment))
                    .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                    .col(timestamp_with_time_zone_null(StripeEvents::ClaimedAt))
                    .col(timestamp_with_time_zone_null(StripeEvents::AppliedAt))
                    .to_owned(),
            )
            .await?;
        // Stripe's event ids are unique per account; an organization is one account.
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_events_organization_event")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::OrganizationId)
                    .col(StripeEvents::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Ordering checks (a newer payment?) and save validation (a cancellation since?).
        manager
            .create_index(
                Index::create()
                    .name("idx_stripe_events_customer_effect")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::OrganizationId)
                    .col(StripeEvents::StripeCustomerId)
                    .col(StripeEvents::Effect)
                    .col(StripeEvents::EventCreated)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationSettings::Table)
                    .add_column(integer_null(OrganizationSettings::SaveValidationDays))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationSettings::Table)
                    .drop_column(OrganizationSettings::SaveValidationDays)
                    .to_owned(),
            )
            .await?;
        for table in [
            StripeEvents::Table.into_iden(),
            StripeWebhookSecrets::Table.into_iden(),
            StripeWebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StripeWebhookEndpoints {
    Table,
    OrganizationId,
    EndpointId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StripeWebhookSecrets {
    Table,
    Id,
    OrganizationId,
    SecretId,
    SecretCiphertext,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    OrganizationId,
    EventId,
    EventType,
    EventCreated,
    StripeCustomerId,
    StripeSubscriptionId,
    Effect,
    CancellationReason,
    CancellationFeedback,
    CancellationComment,
    ReceivedAt,
    ClaimedAt,
    AppliedAt,
}

#[derive(DeriveIden)]
enum OrganizationSettings {
    Table,
    SaveValidationDays,
}

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_tenants::Organizations;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(string_len_null(TicketWebhook::TicketWebhookFormat, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SupportTickets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SupportTickets::Id))
                    .col(big_integer(SupportTickets::OrganizationId))
                    .col(big_integer_null(SupportTickets::EndUserId))
                    .col(string_len_null(SupportTickets::UserEmail, 320))
                    .col(string_len_null(SupportTickets::TargetId, 255))
                    .col(text(SupportTickets::Reason))
                    .col(string_len(SupportTickets::Category, 32))
                    .col(double(SupportTickets::Sentiment))
                    .col(string_len(SupportTickets::Priority, 16))
                    .col(string_len(SupportTickets::Status, 16))
                    .col(string_len_null(SupportTickets::Assignee, 255))
                    .col(text_null(SupportTickets::Note))
                    .col(string_len(SupportTickets::DeliveryStatus, 16))
                    .col(integer(SupportTickets::DeliveryAttempts).default(0))
                    .col(text_null(SupportTickets::DeliveryLastError))
                    .col(timestamp_with_time_zone_null(SupportTickets::DeliveredAt))
                    .col(timestamp_with_time_zone(SupportTickets::CreatedAt))
                    .col(timestamp_with_time_zone(SupportTickets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupportTickets::Table, SupportTickets::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Support staff list an organization's tickets by status, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_support_tickets_org_status")
                    .table(SupportTickets::Table)
                    .col(SupportTickets::OrganizationId)
                    .col(SupportTickets::Status)
                    .col(SupportTickets::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_support_tickets_delivery")
                    .table(SupportTickets::Table)
                    .col(SupportTickets::DeliveryStatus)
                    .col(SupportTickets::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CancellationReasons::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CancellationReasons::Id))
                    .col(big_integer(CancellationReasons::OrganizationId))
                    .col(big_integer_null(CancellationReasons::EndUserId))
                    .col(string_len_null(CancellationReasons::TargetId, 255))
                    .col(text(CancellationReasons::Reason))
                    .col(string_len(CancellationReasons::SuggestedAction, 16))
                    .col(string_len(CancellationReasons::Category, 32))
                    .col(double(CancellationReasons::Confidence))
                    .col(double(CancellationReasons::Sentiment))
                    .col(big_integer_null(CancellationReasons::TicketId))
                    .col(timestamp_with_time_zone(CancellationReasons::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                CancellationReasons::Table,
                                CancellationReasons::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cancellation_reasons_org_created")
                    .table(CancellationReasons::Table)
                    .col(CancellationReasons::OrganizationId)
                    .col(CancellationReasons::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CancellationReasons::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SupportTickets::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(TicketWebhook::TicketWebhookFormat)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum TicketWebhook {
    TicketWebhookFormat,
}

#[derive(DeriveIden)]
enum SupportTickets {
    Table,
    Id,
    OrganizationId,
    EndUserId,
    UserEmail,
    TargetId,
    Reason,
    Category,
    Sentiment,
    Priority,
    Status,
    Assignee,
    Note,
    DeliveryStatus,
    DeliveryAttempts,
    DeliveryLastError,
    DeliveredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CancellationReasons {
    Table,
    Id,
    OrganizationId,
    EndUserId,
    TargetId,
    Reason,
    SuggestedAction,
    Category,
    Confidence,
    Sentiment,
    TicketId,
    CreatedAt,
}

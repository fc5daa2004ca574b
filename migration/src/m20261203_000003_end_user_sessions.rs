//! End-user sessions for the browser's cancel flow: organizations' signing secrets (sealed
//! like the Stripe key; two may be active for a rotation), the offers each session was shown,
//! the one offer a session may apply, and the origins an organization lets call it (CORS).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningSecrets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SigningSecrets::Id))
                    .col(big_integer(SigningSecrets::OrganizationId))
                    .col(string_len_uniq(SigningSecrets::Kid, 64))
                    .col(text(SigningSecrets::SecretCiphertext))
                    .col(timestamp_with_time_zone(SigningSecrets::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningSecrets::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signing_secrets_organization")
                    .table(SigningSecrets::Table)
                    .col(SigningSecrets::OrganizationId)
                    .to_owned(),
            )
            .await?;
        // What a session was shown: the offers it may record an outcome for or apply.
        manager
            .create_table(
                Table::create()
                    .table(SessionOffers::Table)
                    .if_not_exists()
                    .col(string_len(SessionOffers::SessionId, 64))
                    .col(big_integer(SessionOffers::OfferId))
                    .col(big_integer(SessionOffers::OrganizationId))
                    .col(timestamp_with_time_zone(SessionOffers::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(SessionOffers::SessionId)
                            .col(SessionOffers::OfferId),
                    )
                    .to_owned(),
            )
            .await?;
        // At most one application per session: the primary key refuses a second.
        manager
            .create_table(
                Table::create()
                    .table(SessionApplications::Table)
                    .if_not_exists()
                    .col(string_len(SessionApplications::SessionId, 64).primary_key())
                    .col(big_integer(SessionApplications::OrganizationId))
                    .col(big_integer(SessionApplications::OfferId))
                    .col(timestamp_with_time_zone(SessionApplications::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationSettings::Table)
                    .add_column(text_null(OrganizationSettings::AllowedOrigins))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrganizationSettings::Table)
                    .drop_column(OrganizationSettings::AllowedOrigins)
                    .to_owned(),
            )
            .await?;
        for table in [
            SessionApplications::Table.into_iden(),
            SessionOffers::Table.into_iden(),
            SigningSecrets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SigningSecrets {
    Table,
    Id,
    OrganizationId,
    Kid,
    SecretCiphertext,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SessionOffers {
    Table,
    SessionId,
    OfferId,
    OrganizationId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SessionApplications {
    Table,
    SessionId,
    OrganizationId,
    OfferId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OrganizationSettings {
    Table,
    AllowedOrigins,
}

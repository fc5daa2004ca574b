//! The dashboard's people (issue 34): an organization's members (owner or support), each with
//! an Argon2id password hash once they have set one through their one-time invitation (stored
//! as its SHA-256, with an expiry); their signed-in sessions (stored as the token's SHA-256,
//! with an expiry); and the failed sign-ins that throttle guessing, by account and by address.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Members::Id))
                    .col(big_integer(Members::OrganizationId))
                    // One account per address, across organizations: signing in names no
                    // organization.
                    .col(string_len_uniq(Members::Email, 255))
                    .col(string_len(Members::Role, 16))
                    .col(text_null(Members::PasswordHash))
                    .col(string_len_null(Members::InviteTokenHash, 64).unique_key())
                    .col(timestamp_with_time_zone_null(Members::InviteExpiresAt))
                    .col(timestamp_with_time_zone(Members::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Members::Table, Members::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_members_organization")
                    .table(Members::Table)
                    .col(Members::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MemberSessions::Table)
                    .if_not_exists()
                    .col(string_len(MemberSessions::TokenHash, 64).primary_key())
                    .col(big_integer(MemberSessions::MemberId))
                    .col(timestamp_with_time_zone(MemberSessions::ExpiresAt))
                    .col(timestamp_with_time_zone(MemberSessions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MemberSessions::Table, MemberSessions::MemberId)
                            .to(Members::Table, Members::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SignInFailures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(SignInFailures::Id))
                    // `account:<email>` or `address:<ip>`.
                    .col(string_len(SignInFailures::Subject, 300))
                    .col(timestamp_with_time_zone(SignInFailures::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_in_failures_subject_at")
                    .table(SignInFailures::Table)
                    .col(SignInFailures::Subject)
                    .col(SignInFailures::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SignInFailures::Table.into_iden(),
            MemberSessions::Table.into_iden(),
            Members::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    OrganizationId,
    Email,
    Role,
    PasswordHash,
    InviteTokenHash,
    InviteExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberSessions {
    Table,
    TokenHash,
    MemberId,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SignInFailures {
    Table,
    Subject,
    Id,
    At,
}

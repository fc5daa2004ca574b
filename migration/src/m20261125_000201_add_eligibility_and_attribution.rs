//! Per-offer eligibility rules, experiment attribution of impressions, outcomes and
//! applications, and the indexes that keep the eligibility checks off table scans.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// SQLite alters one column per statement.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(column.to_owned())
                .to_owned(),
        )
        .await
}

async fn drop_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: &[&str],
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(Alias::new(*column));
    }
    manager.create_index(statement.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Eligibility rules; NULL means "the organization's default".
        add_column(manager, Offers::Table, integer_null(Offers::CooldownDays)).await?;
        add_column(
            manager,
            Offers::Table,
            integer_null(Offers::TypeCooldownDays),
        )
        .await?;
        add_column(manager, Offers::Table, integer_null(Offers::MaxRedemptions)).await?;
        add_column(
            manager,
            Offers::Table,
            integer_null(Offers::MaxRedemptionsPerUser),
        )
        .await?;
        add_column(
            manager,
            Offers::Table,
            boolean_null(Offers::RequiresSubscription),
        )
        .await?;

        // Which experiment arm an impression, outcome or application belongs to.
        add_column(
            manager,
            Impressions::Table,
            big_integer_null(Impressions::ExperimentId),
        )
        .await?;
        add_column(
            manager,
            Impressions::Table,
            string_len_null(Impressions::ExperimentArm, 64),
        )
        .await?;
        add_column(
            manager,
            Outcomes::Table,
            big_integer_null(Outcomes::ExperimentId),
        )
        .await?;
        add_column(
            manager,
            Outcomes::Table,
            string_len_null(Outcomes::ExperimentArm, 64),
        )
        .await?;
        add_column(
            manager,
            OfferApplications::Table,
            big_integer_null(OfferApplications::ExperimentId),
        )
        .await?;
        add_column(
            manager,
            OfferApplications::Table,
            string_len_null(OfferApplications::ExperimentArm, 64),
        )
        .await?;

        // Eligibility reads one end user's acceptances, and an offer's total.
        index(
            manager,
            "idx_outcomes_org_end_user",
            Outcomes::Table,
            &["organization_id", "end_user_id"],
        )
        .await?;
        index(
            manager,
            "idx_offer_applications_org_end_user",
            OfferApplications::Table,
            &["organization_id", "end_user_id"],
        )
        .await?;
        index(
            manager,
            "idx_offer_applications_offer",
            OfferApplications::Table,
            &["offer_id"],
        )
        .await?;
        // Experiment results.
        index(
            manager,
            "idx_impressions_experiment",
            Impressions::Table,
            &["experiment_id", "experiment_arm"],
        )
        .await?;
        index(
            manager,
            "idx_outcomes_experiment",
            Outcomes::Table,
            &["experiment_id", "experiment_arm"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_outcomes_experiment", Outcomes::Table.into_iden()),
            ("idx_impressions_experiment", Impressions::Table.into_iden()),
            (
                "idx_offer_applications_offer",
                OfferApplications::Table.into_iden(),
            ),
            (
                "idx_offer_applications_org_end_user",
                OfferApplications::Table.into_iden(),
            ),
            ("idx_outcomes_org_end_user", Outcomes::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        drop_column(
            manager,
            OfferApplications::Table,
            OfferApplications::ExperimentArm,
        )
        .await?;
        drop_column(
            manager,
            OfferApplications::Table,
            OfferApplications::ExperimentId,
        )
        .await?;
        drop_column(manager, Outcomes::Table, Outcomes::ExperimentArm).await?;
        drop_column(manager, Outcomes::Table, Outcomes::ExperimentId).await?;
        drop_column(manager, Impressions::Table, Impressions::ExperimentArm).await?;
        drop_column(manager, Impressions::Table, Impressions::ExperimentId).await?;
        drop_column(manager, Offers::Table, Offers::RequiresSubscription).await?;
        drop_column(manager, Offers::Table, Offers::MaxRedemptionsPerUser).await?;
        drop_column(manager, Offers::Table, Offers::MaxRedemptions).await?;
        drop_column(manager, Offers::Table, Offers::TypeCooldownDays).await?;
        drop_column(manager, Offers::Table, Offers::CooldownDays).await
    }
}

#[derive(DeriveIden)]
enum Offers {
    Table,
    CooldownDays,
    TypeCooldownDays,
    MaxRedemptions,
    MaxRedemptionsPerUser,
    RequiresSubscription,
}

#[derive(DeriveIden)]
enum Impressions {
    Table,
    ExperimentId,
    ExperimentArm,
}

#[derive(DeriveIden)]
enum Outcomes {
    Table,
    ExperimentId,
    ExperimentArm,
}

#[derive(DeriveIden)]
enum OfferApplications {
    Table,
    ExperimentId,
    ExperimentArm,
}

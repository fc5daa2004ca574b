//! Tables of the durable job queue (`workers::DatabaseQueue`).
//!
//! All timestamps are BIGINT unix milliseconds: they compare exactly and in the
//! same way on SQLite and PostgreSQL, which is what the claim query relies on.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QueueJobs::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(QueueJobs::Id)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(QueueJobs::Kind).text().not_null())
                    // JSON text: the queue never looks inside a payload.
                    .col(ColumnDef::new(QueueJobs::Payload).text().not_null())
                    // 'scheduled' | 'inflight' | 'dead'
                    .col(ColumnDef::new(QueueJobs::State).text().not_null())
                    // Due time while scheduled, lease expiry while inflight.
                    .col(ColumnDef::new(QueueJobs::RunAt).big_integer().not_null())
                    // When the job last became claimable; kept while inflight so
                    // a claimed job can report it and `release` can restore it.
                    .col(ColumnDef::new(QueueJobs::DueAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(QueueJobs::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(QueueJobs::LeaseToken).text().null())
                    .col(ColumnDef::new(QueueJobs::LastError).text().null())
                    .col(
                        ColumnDef::new(QueueJobs::EnqueuedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(QueueJobs::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(QueueJobs::DiedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;

        // State-scoped lookups: the dead-letter listing and per-state counts.
        manager
            .create_index(
                Index::create()
                    .name("idx_queue_jobs_state_run_at")
                    .table(QueueJobs::Table)
                    .col(QueueJobs::State)
                    .col(QueueJobs::RunAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // The claim query: `WHERE state IN ('scheduled', 'inflight') AND run_at <= now
        // ORDER BY run_at, id LIMIT n`. A partial index in that order lets it read
        // just the first n claimable rows instead of sorting every due one.
        manager
            .create_index(
                Index::create()
                    .name("idx_queue_jobs_claimable")
                    .table(QueueJobs::Table)
                    .col(QueueJobs::RunAt)
                    .col(QueueJobs::Id)
                    .and_where(Expr::col(QueueJobs::State).is_in(["scheduled", "inflight"]))
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QueueCounters::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(QueueCounters::Name)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(QueueCounters::Value)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(QueueCounters::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(QueueJobs::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum QueueJobs {
    Table,
    Id,
    Kind,
    Payload,
    State,
    RunAt,
    DueAt,
    Attempts,
    LeaseToken,
    LastError,
    EnqueuedAt,
    UpdatedAt,
    DiedAt,
}

#[derive(DeriveIden)]
enum QueueCounters {
    Table,
    Name,
    Value,
}

//! Impressions and outcomes are indexed by experiment only when they belong to one. The
//! experiment results, the indexes' only readers, look rows up by experiment id; an index over
//! every row made each intercept and each outcome outside an experiment (most of them) write
//! an entry too, one of three b-tree inserts per impression.
use sea_orm_migration::prelude::*;

const INDEXES: [(&str, &str); 2] = [
    ("idx_impressions_experiment", "impressions"),
    ("idx_outcomes_experiment", "outcomes"),
];

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn replace(manager: &SchemaManager<'_>, condition: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for (index, table) in INDEXES {
        // Partial indexes are not in SeaQuery's portable builder; this script is the same on
        // SQLite and PostgreSQL. One call for both statements: on SQLite the pool may hand
        // each call another connection, whose cached schema still held the dropped index
        // when it prepared the CREATE ("already exists").
        db.execute_unprepared(&format!(
            "DROP INDEX IF EXISTS {index}; \
             CREATE INDEX {index} ON {table} (experiment_id, experiment_arm){condition}"
        ))
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `experiment_id = $1` implies the condition: both databases use the index for it.
        replace(manager, " WHERE experiment_id IS NOT NULL").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, "").await
    }
}

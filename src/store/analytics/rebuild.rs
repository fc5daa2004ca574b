//! Rebuilding the rollups from the stored rows (`saveloops analytics rebuild`), and keeping
//! the reasons' rollups in step with `sentiment.ticket_min_confidence`.
use chrono::NaiveDate;
use migration::analytics_rollups::{self, RebuildScope};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

/// Rebuilds the rollups of an organization (or all) over whole UTC days `[from, until)` (or
/// all time), in one transaction. Exact while no rows of that organization are being
/// written; run it when the writers are quiet (a row written meanwhile is counted by its
/// own statement, and may be counted again by the rebuild).
pub async fn rebuild(
    db: &DatabaseConnection,
    organization_id: Option<i64>,
    days: Option<(NaiveDate, NaiveDate)>,
) -> Result<(), DbErr> {
    let scope = RebuildScope {
        organization_id,
        days: days.map(|(from, until)| {
            (
                from.format("%Y-%m-%d").to_string(),
                until.format("%Y-%m-%d").to_string(),
            )
        }),
    };
    let txn = db.begin().await?;
    for sql in analytics_rollups::rebuild(db.get_database_backend(), &scope) {
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await
}

/// Stores the bar the write triggers count low-confidence reasons against; when it changed,
/// recounts the reasons' rollups with it.
pub async fn set_confidence_bar(db: &DatabaseConnection, bar: f64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let stored = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT ticket_min_confidence FROM analytics_settings WHERE id = 1",
        ))
        .await?
        .map(|row| row.try_get_by_index::<f64>(0))
        .transpose()?;
    if stored == Some(bar) {
        return Ok(());
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO analytics_settings (id, ticket_min_confidence) VALUES (1, {bar:?}) \
         ON CONFLICT (id) DO UPDATE SET ticket_min_confidence = excluded.ticket_min_confidence"
    ))
    .await?;
    let everything = RebuildScope {
        organization_id: None,
        days: None,
    };
    for sql in analytics_rollups::rebuild_reasons(backend, &everything) {
        txn.execute_unprepared(&sql).await?;
    }
    txn.commit().await
}

//! Writing one batch: sorting its records into rows, and choosing how to write them on the
//! database at hand.

use chrono::{DateTime, Utc};
use entity::{cancellation_reason, experiment_assignment, impression, outcome};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbBackend, EntityTrait, TransactionTrait};

use super::postgres::{
    add_impression_rollups_on_postgres, insert_impressions_on_postgres,
    insert_outcomes_on_postgres, write_reasons_on_postgres,
};
use super::records::Record;
use super::sqlite::write_batch_on_sqlite;
use crate::actors::ticket_desk::{write_tickets, OpenedTicket};
use crate::store::database::{WriteTurn, WriteTurns};
use crate::store::experiments::Exposure;

/// Writes the batch (on SQLite during the writer's `turn`); answers, per record, the ticket
/// it opened.
#[tracing::instrument(skip_all, fields(rows = records.len()))]
pub(super) async fn write_batch(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    turn: Option<&mut WriteTurn>,
    records: Vec<(Record, DateTime<Utc>)>,
) -> Result<Vec<Option<OpenedTicket>>, sea_orm::DbErr> {
    let count = records.len();
    // (position of its reason in `reasons`, position of its record, the ticket, when)
    let mut tickets = Vec::new();
    let mut impressions = Vec::new();
    let mut outcomes = Vec::new();
    let mut assignments = Vec::new();
    let mut reasons = Vec::new();
    // A known end user is assigned once per experiment: skip repeats within the batch (the
    // unique index and ON CONFLICT DO NOTHING take care of earlier batches).
    let mut assigned = std::collections::HashSet::new();
    let mut assign = |organization_id: i64, end_user_id: Option<i64>, exposure: &Exposure, at| {
        if end_user_id.is_some_and(|user| !assigned.insert((exposure.experiment_id, user))) {
            return;
        }
        assignments.push(experiment_assignment::ActiveModel {
            organization_id: Set(organization_id),
            experiment_id: Set(exposure.experiment_id),
            end_user_id: Set(end_user_id),
            arm: Set(exposure.arm.clone()),
            created_at: Set(at),
            ..Default::default()
        });
    };
    for (position, (record, at)) in records.into_iter().enumerate() {
        match record {
            Record::Impression(i) => {
                if let Some(exposure) = &i.exposure {
                    assign(i.organization_id, i.end_user_id, exposure, at);
                }
                impressions.push(impression::ActiveModel {
                    organization_id: Set(i.organization_id),
                    end_user_id: Set(i.end_user_id),
                    target_id: Set(i.target_id),
                    trigger: Set(i.trigger),
                    mrr_e4: Set(i.mrr_e4),
                    offer_ids: Set(
                        serde_json::to_string(&i.offer_ids).unwrap_or_else(|_| "[]".into())
                    ),
                    experiment_id: Set(i.exposure.as_ref().map(|e| e.experiment_id)),
                    experiment_arm: Set(i.exposure.map(|e| e.arm)),
                    created_at: Set(at),
                    ..Default::default()
                })
            }
            Record::Outcome(o) => outcomes.push(outcome::ActiveModel {
                organization_id: Set(o.organization_id),
                offer_id: Set(o.offer_id),
                end_user_id: Set(o.end_user_id),
                status: Set(o.status.as_str().to_owned()),
                mrr_e4: Set(o.mrr_e4),
                source: Set(o.source.to_owned()),
                experiment_id: Set(o.exposure.as_ref().map(|e| e.experiment_id)),
                experiment_arm: Set(o.exposure.map(|e| e.arm)),
                created_at: Set(at),
                ..Default::default()
            }),
            Record::Assignment(a) => assign(a.organization_id, a.end_user_id, &a.exposure, at),
            Record::Reason(r) => {
                if let Some(ticket) = r.ticket {
                    tickets.push((reasons.len(), position, ticket, at));
                }
                reasons.push(cancellation_reason::ActiveModel {
                    organization_id: Set(r.organization_id),
                    end_user_id: Set(r.end_user_id),
                    target_id: Set(r.target_id),
                    reason: Set(r.reason),
                    suggested_action: Set(r.suggested_action.to_owned()),
                    category: Set(r.category),
                    language: Set(Some(r.language.to_owned())),
                    confidence: Set(r.confidence),
                    sentiment: Set(r.sentiment),
                    ticket_id: Set(None),
                    created_at: Set(at),
                    ..Default::default()
                })
            }
        }
    }
    // Two batches can be in flight on PostgreSQL: inserting assignments in one order keeps
    // their row locks from deadlocking.
    assignments.sort_by_key(|a| {
        (
            a.experiment_id.clone().unwrap(),
            a.end_user_id.clone().unwrap(),
        )
    });
    let kinds = [
        !impressions.is_empty(),
        !assignments.is_empty(),
        !outcomes.is_empty(),
        !reasons.is_empty(),
    ];
    let mut opened = vec![None; count];
    let postgres = (db.get_database_backend() == DbBackend::Postgres).then(|| {
        turns
            .group_commit_pool()
            .unwrap_or_else(|| db.get_postgres_connection_pool())
    });
    // Reasons (with or without tickets) and nothing else: one statement on PostgreSQL.
    let only_reasons = impressions.is_empty() && outcomes.is_empty() && assignments.is_empty();
    if let Some(pool) = postgres.filter(|_| only_reasons) {
        write_reasons_on_postgres(pool, reasons, tickets, &mut opened).await?;
        return Ok(opened);
    }
    // On SQLite any batch is one statement, on the turn's connection.
    if let Some(turn) = turn {
        let written = write_batch_on_sqlite(
            db,
            turn,
            impressions,
            assignments,
            outcomes,
            reasons,
            tickets,
        )
        .await?;
        for (position, ticket) in written {
            opened[position] = Some(ticket);
        }
        return Ok(opened);
    }
    // PostgreSQL from here on. One statement is atomic by itself: a batch of one kind of row
    // and no ticket (the usual case) skips BEGIN and COMMIT, two of its three round trips.
    if tickets.is_empty() && kinds.iter().filter(|&&some| some).count() <= 1 {
        if let Some(pool) = postgres {
            if !impressions.is_empty() {
                let pool = turns.impression_pool().unwrap_or(pool);
                insert_impressions_on_postgres(pool, impressions).await?;
                return Ok(opened);
            }
            if !outcomes.is_empty() {
                insert_outcomes_on_postgres(pool, outcomes).await?;
                return Ok(opened);
            }
        }
        insert_rows(db, impressions, assignments, outcomes, reasons).await?;
        return Ok(opened);
    }
    let txn = db.begin().await?;
    // A batch of several kinds: one transaction. Tickets first: each reason row names its
    // ticket. One statement for them all, inside the transaction.
    let (places, new_tickets): (Vec<_>, Vec<_>) = tickets
        .into_iter()
        .map(|(reason, position, ticket, at)| ((reason, position), (ticket, at)))
        .unzip();
    let written = write_tickets(&txn, new_tickets).await?;
    for ((reason, position), ticket) in places.into_iter().zip(written) {
        reasons[reason].ticket_id = Set(Some(ticket.id));
        opened[position] = Some(ticket);
    }
    insert_rows(&txn, impressions, assignments, outcomes, reasons).await?;
    txn.commit().await?;
    Ok(opened)
}

async fn insert_rows(
    db: &impl sea_orm::ConnectionTrait,
    impressions: Vec<impression::ActiveModel>,
    assignments: Vec<experiment_assignment::ActiveModel>,
    outcomes: Vec<outcome::ActiveModel>,
    reasons: Vec<cancellation_reason::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    if !impressions.is_empty() {
        // PostgreSQL has no trigger that rolls them up (SQLite never comes here).
        add_impression_rollups_on_postgres(db, &impressions).await?;
        impression::Entity::insert_many(impressions)
            .exec_without_returning(db)
            .await?;
    }
    if !assignments.is_empty() {
        experiment_assignment::Entity::insert_many(assignments)
            .on_conflict_do_nothing_on([
                experiment_assignment::Column::ExperimentId,
                experiment_assignment::Column::EndUserId,
            ])
            .exec_without_returning(db)
            .await?;
    }
    if !outcomes.is_empty() {
        outcome::Entity::insert_many(outcomes)
            .exec_without_returning(db)
            .await?;
    }
    if !reasons.is_empty() {
        cancellation_reason::Entity::insert_many(reasons)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

//! A whole batch on SQLite, as one insert into the view whose trigger writes every table.

use chrono::{DateTime, Utc};
use entity::{cancellation_reason, experiment_assignment, impression, outcome};
use sea_orm::DatabaseConnection;

use super::impression_rollups::ImpressionRollups;
use crate::actors::ticket_desk::{NewTicket, OpenedTicket};
use crate::domain::ticket::priority;
use crate::store::database::WriteTurn;

/// SQLite: rows as JSON arrays of their values, in the order the columns are named, with
/// `created_at` last (as SQLite stores times). As for `insert_as_arrays!`, every column named
/// is set by `write_batch`, and a column added to a table must be added here and to the
/// trigger of the view `outcome_recorder_batches` too (last written by
/// `m20261206_000001_reason_language`; the tests catch a required one).
macro_rules! json_rows {
    ($rows:expr, [$($column:ident),+ $(,)?]) => {
        $rows
            .into_iter()
            .map(|row| {
                serde_json::json!([
                    $(row.$column.unwrap(),)+
                    crate::store::database::sqlite_time(row.created_at.unwrap())
                ])
            })
            .collect::<Vec<serde_json::Value>>()
    };
}

/// SQLite: any batch — impressions, assignments, outcomes, reasons and the tickets they open
/// — as one INSERT of one row into the view `outcome_recorder_batches`, whose trigger writes
/// every table (migrations `m20261130_000006_outcome_recorder_batches` and
/// `m20261206_000001_reason_language`), each kind of row as
/// one JSON array: one statement of one fixed text, one transaction and one result handed
/// back, on the writers' kept connection. A batch of reasons with tickets was four statements
/// (BEGIN, the tickets, the reasons, COMMIT), a batch of impressions SeaORM's multi-row insert
/// (one text per batch size, built value by value, on a pooled connection), and a batch of
/// two kinds a transaction. The tickets take the ids AUTOINCREMENT would have given them,
/// read in the same statement, which holds SQLite's write lock from its start; its one row
/// answers the first of them and which organizations deliver tickets to a webhook. Answers
/// (position of the record, its ticket) for each ticket opened.
pub(super) async fn write_batch_on_sqlite(
    db: &DatabaseConnection,
    turn: &mut WriteTurn,
    impressions: Vec<impression::ActiveModel>,
    assignments: Vec<experiment_assignment::ActiveModel>,
    outcomes: Vec<outcome::ActiveModel>,
    reasons: Vec<cancellation_reason::ActiveModel>,
    tickets: Vec<(usize, usize, NewTicket, DateTime<Utc>)>,
) -> Result<Vec<(usize, OpenedTicket)>, sea_orm::DbErr> {
    use sea_orm::sqlx::Row;
    use serde_json::{json, Value};
    let rollups = ImpressionRollups::of(&impressions, crate::store::database::sqlite_time);
    let impressions = json_rows!(
        impressions,
        [
            organization_id,
            end_user_id,
            target_id,
            trigger,
            mrr_e4,
            offer_ids,
            experiment_id,
            experiment_arm,
        ]
    );
    let assignments = json_rows!(
        assignments,
        [organization_id, experiment_id, end_user_id, arm]
    );
    let outcomes = json_rows!(
        outcomes,
        [
            organization_id,
            offer_id,
            end_user_id,
            status,
            mrr_e4,
            source,
            experiment_id,
            experiment_arm,
        ]
    );
    let mut reasons = json_rows!(
        reasons,
        [
            organization_id,
            end_user_id,
            target_id,
            reason,
            suggested_action,
            category,
            confidence,
            sentiment,
            language,
        ]
    );
    let mut ticket_places = Vec::with_capacity(tickets.len());
    for (number, (reason, position, ticket, _)) in (1_i64..).zip(tickets) {
        ticket_places.push((position, ticket.organization_id));
        if let Some(Value::Array(row)) = reasons.get_mut(reason) {
            row.extend([
                json!(number),
                json!(ticket.user_email),
                json!(priority(ticket.sentiment, &ticket.category)),
            ]);
        }
    }
    let statement = sea_orm::sqlx::query(
        "INSERT INTO outcome_recorder_batches (impressions, assignments, outcomes, reasons, \
             first_ticket_id, webhook_organizations, impression_days, latest_intercepts, \
             arm_impressions) \
         VALUES (jsonb(?1), jsonb(?2), jsonb(?3), jsonb(?4), \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'support_tickets'), 0) + 1, \
             (SELECT json_group_array(o.id) FROM organizations AS o \
              WHERE o.ticket_webhook_url IS NOT NULL \
                  AND o.id IN (SELECT r.value ->> 0 FROM jsonb_each(?4) AS r)), \
             jsonb(?5), jsonb(?6), jsonb(?7)) \
         RETURNING first_ticket_id, webhook_organizations",
    )
    .bind(Value::Array(impressions).to_string())
    .bind(Value::Array(assignments).to_string())
    .bind(Value::Array(outcomes).to_string())
    .bind(Value::Array(reasons).to_string())
    .bind(rollups.days.to_string())
    .bind(rollups.latest_intercepts.to_string())
    .bind(rollups.arms.to_string());
    let answer = crate::store::database::sqlite_transaction_in_turn(db, turn, statement).await?;
    let row = answer.first().ok_or(sea_orm::DbErr::RecordNotInserted)?;
    let first_ticket_id: i64 = row
        .try_get(0)
        .map_err(crate::store::database::sqlx_failure)?;
    let webhooks: String = row
        .try_get(1)
        .map_err(crate::store::database::sqlx_failure)?;
    let webhooks: Vec<i64> = serde_json::from_str(&webhooks)
        .map_err(|e| sea_orm::DbErr::Custom(format!("webhook organizations: {e}")))?;
    Ok(ticket_places
        .into_iter()
        .zip(first_ticket_id..)
        .map(|((position, organization_id), id)| {
            let awaits_delivery = webhooks.contains(&organization_id);
            (
                position,
                OpenedTicket {
                    id,
                    awaits_delivery,
                },
            )
        })
        .collect())
}

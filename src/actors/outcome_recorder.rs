//! OutcomeRecorder: impressions, outcomes and analysed cancellation reasons (with the
//! support tickets they open), group-committed. Writes that arrive while a transaction is in
//! flight wait in a batch and share the next transaction; each request is answered only once
//! its own rows are committed.
use crate::actors::guard;
use std::mem;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use entity::{cancellation_reason, experiment_assignment, impression, outcome};
use sea_orm::sqlx::PgPool;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbBackend, EntityTrait, TransactionTrait};
use tokio::sync::oneshot;

use super::ticket_desk::{write_tickets, NewTicket, OpenedTicket};
use super::{Failure, MAILBOX_CAPACITY};
use crate::store::database::{WriteTurn, WriteTurns};
use crate::store::experiments::Exposure;
use crate::store::tickets::priority;

/// Largest batch one transaction takes; more waits for the next.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone)]
pub struct NewImpression {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: String,
    pub trigger: Option<String>,
    pub mrr_e4: Option<i64>,
    pub offer_ids: Vec<i64>,
    /// The experiment arm the offers came from; the exposure is recorded with it.
    pub exposure: Option<Exposure>,
}

/// An exposure without an impression (sentiment suggestions from an experiment arm).
#[derive(Debug, Clone)]
pub struct NewAssignment {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub exposure: Exposure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStatus {
    Saved,
    Abandoned,
}

impl OutcomeStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "saved" => Some(OutcomeStatus::Saved),
            "abandoned" => Some(OutcomeStatus::Abandoned),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Saved => "saved",
            OutcomeStatus::Abandoned => "abandoned",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewOutcome {
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
    pub status: OutcomeStatus,
    pub mrr_e4: Option<i64>,
    /// `outcome` when the client reported it, `apply_offer` when an applied offer saved.
    pub source: &'static str,
    /// The experiment arm credited with it.
    pub exposure: Option<Exposure>,
}

/// A cancellation reason as the sentiment analyzer read it.
#[derive(Debug, Clone)]
pub struct NewReason {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: Option<String>,
    pub reason: String,
    pub suggested_action: &'static str,
    pub category: String,
    pub confidence: f64,
    pub sentiment: f64,
    /// The support ticket the reason opens, written in the same transaction.
    pub ticket: Option<NewTicket>,
}

/// One row to write durably (answered with the ticket it opened, if any).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Option<OpenedTicket>, Failure>")]
pub enum Record {
    Impression(NewImpression),
    Outcome(NewOutcome),
    Assignment(NewAssignment),
    Reason(NewReason),
}

type Waiter = oneshot::Sender<Result<Option<OpenedTicket>, String>>;

pub struct OutcomeRecorder {
    db: DatabaseConnection,
    turns: WriteTurns,
    pending: Vec<(Record, DateTime<Utc>, Waiter)>,
    committing: usize,
    max_committing: usize,
}

impl OutcomeRecorder {
    /// `postgres_commits_in_flight`: how many batches may be committing at once on
    /// PostgreSQL (SQLite has one writer, so it gets one).
    pub fn new(
        db: DatabaseConnection,
        turns: WriteTurns,
        postgres_commits_in_flight: usize,
    ) -> Self {
        let max_committing = match db.get_database_backend() {
            DbBackend::Postgres => postgres_commits_in_flight.max(1),
            _ => 1,
        };
        OutcomeRecorder {
            db,
            turns,
            pending: Vec::new(),
            committing: 0,
            max_committing,
        }
    }

    fn commit_next_batch(&mut self, ctx: &mut Context<Self>) {
        if self.committing >= self.max_committing || self.pending.is_empty() {
            return;
        }
        self.committing += 1;
        let take = self.pending.len().min(MAX_BATCH);
        let rest = self.pending.split_off(take);
        let batch = mem::replace(&mut self.pending, rest);
        let db = self.db.clone();
        let turns = self.turns.clone();
        let work = async move {
            let (records, waiters): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|(record, at, waiter)| ((record, at), waiter))
                .unzip();
            let mut turn = turns.take().await;
            let written = write_batch(&db, &turns, turn.as_mut(), records).await;
            drop(turn);
            match written {
                Ok(tickets) => {
                    for (waiter, ticket) in waiters.into_iter().zip(tickets) {
                        // The requester may have gone away; its row is committed all the same.
                        let _ = waiter.send(Ok(ticket));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "group commit failed");
                    for waiter in waiters {
                        let _ = waiter.send(Err(e.to_string()));
                    }
                }
            }
        };
        let committed = fut::wrap_future(work).map(|_, act: &mut Self, ctx| {
            act.committing -= 1;
            act.commit_next_batch(ctx);
        });
        ctx.spawn(super::guard::recovering(
            committed,
            |act: &mut Self, ctx| {
                act.committing -= 1;
                act.commit_next_batch(ctx);
            },
        ));
    }
}

/// Writes the batch (on SQLite during the writer's `turn`); answers, per record, the ticket
/// it opened.
#[tracing::instrument(skip_all, fields(rows = records.len()))]
async fn write_batch(
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

/// PostgreSQL: rows inserted as arrays, one per column (`INSERT ... SELECT * FROM UNNEST`):
/// one statement text whatever the batch's size and one parameter per column instead of one
/// per value (impressions: intercept +8 % req/s, A/B over 5 rounds, and less service CPU per
/// request). It runs on the group-commit pool, whose connections keep its generic plan
/// (PostgreSQL CPU per impression 44-52 → 34-47 µs). Every column named is set by
/// `write_batch` (`unwrap` reads a set value); a column added to the table must be added
/// here too, which the PostgreSQL test run catches if it is required.
macro_rules! insert_as_arrays {
    ($pool:expr, $sql:literal, $rows:expr, [$($column:ident),+ $(,)?]) => {{
        let rows = $rows;
        $(let mut $column = Vec::with_capacity(rows.len());)+
        for row in rows {
            $($column.push(row.$column.unwrap());)+
        }
        sea_orm::sqlx::query($sql)
            $(.bind($column))+
            .execute($pool)
            .await
            .map_err(crate::store::database::sqlx_failure)
            .map(|_| ())
    }};
}

async fn insert_impressions_on_postgres(
    pool: &PgPool,
    impressions: Vec<impression::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    insert_as_arrays!(
        pool,
        "INSERT INTO impressions (organization_id, end_user_id, target_id, trigger, mrr_e4, \
         offer_ids, experiment_id, experiment_arm, created_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::timestamptz[])",
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
            created_at,
        ]
    )
}

async fn insert_outcomes_on_postgres(
    pool: &PgPool,
    outcomes: Vec<outcome::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    insert_as_arrays!(
        pool,
        "INSERT INTO outcomes (organization_id, offer_id, end_user_id, status, mrr_e4, source, \
         experiment_id, experiment_arm, created_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
         $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::timestamptz[])",
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
            created_at,
        ]
    )
}

/// PostgreSQL: a batch of cancellation reasons and the tickets they open as one statement of
/// one fixed text, the batch as arrays. The transaction it replaces (BEGIN, the tickets, the
/// reasons, COMMIT) cost four round trips and a statement text per batch size, parsed and
/// planned anew; sentiment requests spent more of PostgreSQL's CPU than any other.
/// The tickets' ids are drawn from their sequence first, so that each reason names its
/// ticket by position in the batch; the statement answers (position, id, delivery status).
async fn write_reasons_on_postgres(
    pool: &PgPool,
    reasons: Vec<cancellation_reason::ActiveModel>,
    tickets: Vec<(usize, usize, NewTicket, DateTime<Utc>)>,
    opened: &mut [Option<OpenedTicket>],
) -> Result<(), sea_orm::DbErr> {
    let mut ticket_of_reason = vec![None; reasons.len()];
    let mut position_of_ticket = Vec::with_capacity(tickets.len());
    let mut t_organization = Vec::with_capacity(tickets.len());
    let mut t_end_user = Vec::with_capacity(tickets.len());
    let mut t_email = Vec::with_capacity(tickets.len());
    let mut t_target = Vec::with_capacity(tickets.len());
    let mut t_priority = Vec::with_capacity(tickets.len());
    let mut t_reason = Vec::with_capacity(tickets.len());
    let mut t_category = Vec::with_capacity(tickets.len());
    let mut t_sentiment = Vec::with_capacity(tickets.len());
    let mut t_at = Vec::with_capacity(tickets.len());
    for (number, (reason, position, ticket, at)) in (1_i64..).zip(tickets) {
        ticket_of_reason[reason] = Some(number);
        position_of_ticket.push(position);
        t_priority.push(priority(ticket.sentiment, &ticket.category));
        t_organization.push(ticket.organization_id);
        t_end_user.push(ticket.end_user_id);
        t_email.push(ticket.user_email);
        t_target.push(ticket.target_id);
        t_reason.push(ticket.reason);
        t_category.push(ticket.category);
        t_sentiment.push(ticket.sentiment);
        t_at.push(at);
    }
    let mut organization_id = Vec::with_capacity(reasons.len());
    let mut end_user_id = Vec::with_capacity(reasons.len());
    let mut target_id = Vec::with_capacity(reasons.len());
    let mut reason = Vec::with_capacity(reasons.len());
    let mut suggested_action = Vec::with_capacity(reasons.len());
    let mut category = Vec::with_capacity(reasons.len());
    let mut confidence = Vec::with_capacity(reasons.len());
    let mut sentiment = Vec::with_capacity(reasons.len());
    let mut created_at = Vec::with_capacity(reasons.len());
    for row in reasons {
        organization_id.push(row.organization_id.unwrap());
        end_user_id.push(row.end_user_id.unwrap());
        target_id.push(row.target_id.unwrap());
        reason.push(row.reason.unwrap());
        suggested_action.push(row.suggested_action.unwrap());
        category.push(row.category.unwrap());
        confidence.push(row.confidence.unwrap());
        sentiment.push(row.sentiment.unwrap());
        created_at.push(row.created_at.unwrap());
    }
    let written: Vec<(i64, i64, String)> = sea_orm::sqlx::query_as(
        "WITH ticket_ids AS MATERIALIZED ( \
             SELECT n, nextval((SELECT pg_get_serial_sequence('support_tickets', 'id'))::regclass) \
                 AS id \
             FROM UNNEST($1::bigint[]) WITH ORDINALITY AS t(organization_id, n) \
         ), tickets AS ( \
             INSERT INTO support_tickets (id, organization_id, end_user_id, user_email, \
                 target_id, priority, reason, category, sentiment, status, delivery_status, \
                 delivery_attempts, created_at, updated_at) \
             SELECT i.id, t.organization_id, t.end_user_id, t.user_email, t.target_id, \
                 t.priority, t.reason, t.category, t.sentiment, 'open', \
                 CASE WHEN EXISTS (SELECT 1 FROM organizations o \
                     WHERE o.id = t.organization_id AND o.ticket_webhook_url IS NOT NULL) \
                 THEN 'pending' ELSE 'none' END, \
                 0, t.created_at, t.created_at \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::float8[], $9::timestamptz[]) WITH ORDINALITY \
                 AS t(organization_id, end_user_id, user_email, target_id, priority, reason, \
                     category, sentiment, created_at, n) \
             JOIN ticket_ids i ON i.n = t.n \
             RETURNING id, delivery_status \
         ), reasons AS ( \
             INSERT INTO cancellation_reasons (organization_id, end_user_id, target_id, \
                 reason, suggested_action, category, confidence, sentiment, ticket_id, \
                 created_at) \
             SELECT r.organization_id, r.end_user_id, r.target_id, r.reason, \
                 r.suggested_action, r.category, r.confidence, r.sentiment, i.id, r.created_at \
             FROM UNNEST($10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], \
                 $15::text[], $16::float8[], $17::float8[], $18::bigint[], \
                 $19::timestamptz[]) \
                 AS r(organization_id, end_user_id, target_id, reason, suggested_action, \
                     category, confidence, sentiment, ticket_number, created_at) \
             LEFT JOIN ticket_ids i ON i.n = r.ticket_number \
         ) \
         SELECT i.n, t.id, t.delivery_status FROM tickets t JOIN ticket_ids i ON i.id = t.id",
    )
    .bind(t_organization)
    .bind(t_end_user)
    .bind(t_email)
    .bind(t_target)
    .bind(t_priority)
    .bind(t_reason)
    .bind(t_category)
    .bind(t_sentiment)
    .bind(t_at)
    .bind(organization_id)
    .bind(end_user_id)
    .bind(target_id)
    .bind(reason)
    .bind(suggested_action)
    .bind(category)
    .bind(confidence)
    .bind(sentiment)
    .bind(ticket_of_reason)
    .bind(created_at)
    .fetch_all(pool)
    .await
    .map_err(crate::store::database::sqlx_failure)?;
    if written.len() != position_of_ticket.len() {
        return Err(sea_orm::DbErr::RecordNotInserted);
    }
    for (number, id, delivery_status) in written {
        let position = usize::try_from(number - 1)
            .ok()
            .and_then(|index| position_of_ticket.get(index))
            .ok_or(sea_orm::DbErr::RecordNotInserted)?;
        opened[*position] = Some(OpenedTicket {
            id,
            awaits_delivery: delivery_status == "pending",
        });
    }
    Ok(())
}

/// SQLite: rows as JSON arrays of their values, in the order the columns are named, with
/// `created_at` last (as SQLite stores times). As for `insert_as_arrays!`, every column named
/// is set by `write_batch`, and a column added to a table must be added here and to the
/// trigger of `m20261130_000006_outcome_recorder_batches` too (the tests catch a required one).
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
/// every table (migration `m20261130_000006_outcome_recorder_batches`), each kind of row as
/// one JSON array: one statement of one fixed text, one transaction and one result handed
/// back, on the writers' kept connection. A batch of reasons with tickets was four statements
/// (BEGIN, the tickets, the reasons, COMMIT), a batch of impressions SeaORM's multi-row insert
/// (one text per batch size, built value by value, on a pooled connection), and a batch of
/// two kinds a transaction. The tickets take the ids AUTOINCREMENT would have given them,
/// read in the same statement, which holds SQLite's write lock from its start; its one row
/// answers the first of them and which organizations deliver tickets to a webhook. Answers
/// (position of the record, its ticket) for each ticket opened.
async fn write_batch_on_sqlite(
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
             first_ticket_id, webhook_organizations) \
         VALUES (jsonb(?1), jsonb(?2), jsonb(?3), jsonb(?4), \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'support_tickets'), 0) + 1, \
             (SELECT json_group_array(o.id) FROM organizations AS o \
              WHERE o.ticket_webhook_url IS NOT NULL \
                  AND o.id IN (SELECT r.value ->> 0 FROM jsonb_each(?4) AS r))) \
         RETURNING first_ticket_id, webhook_organizations",
    )
    .bind(Value::Array(impressions).to_string())
    .bind(Value::Array(assignments).to_string())
    .bind(Value::Array(outcomes).to_string())
    .bind(Value::Array(reasons).to_string());
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

async fn insert_rows(
    db: &impl sea_orm::ConnectionTrait,
    impressions: Vec<impression::ActiveModel>,
    assignments: Vec<experiment_assignment::ActiveModel>,
    outcomes: Vec<outcome::ActiveModel>,
    reasons: Vec<cancellation_reason::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    if !impressions.is_empty() {
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

impl Actor for OutcomeRecorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl Handler<Record> for OutcomeRecorder {
    type Result = ResponseFuture<Result<Option<OpenedTicket>, Failure>>;

    fn handle(&mut self, record: Record, ctx: &mut Self::Context) -> Self::Result {
        let (waiter, committed) = oneshot::channel();
        self.pending.push((record, Utc::now(), waiter));
        self.commit_next_batch(ctx);
        guard(async move {
            match committed.await {
                Ok(Ok(ticket)) => Ok(ticket),
                Ok(Err(e)) => Err(Failure::Unexpected(anyhow::anyhow!(
                    "could not record the write: {e}"
                ))),
                Err(_) => Err(Failure::Unexpected(anyhow::anyhow!(
                    "the outcome recorder stopped before committing"
                ))),
            }
        })
    }
}

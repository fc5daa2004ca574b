//! A batch's rows on PostgreSQL, as arrays bound to one fixed statement per kind of batch.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use entity::{cancellation_reason, impression, outcome};
use sea_orm::sqlx::PgPool;

use super::impression_rollups::ImpressionRollups;

use crate::actors::ticket_desk::{NewTicket, OpenedTicket};
use crate::domain::ticket::priority;

/// PostgreSQL: rows inserted as arrays, one per column (`INSERT ... SELECT * FROM UNNEST`):
/// one statement text whatever the batch's size and one parameter per column instead of one
/// per value (impressions: intercept +8 % req/s, A/B over 5 rounds, and less service CPU per
/// request). It runs on the group-commit pool, whose connections keep its generic plan
/// (PostgreSQL CPU per impression 44-52 → 34-47 µs). Every column named is set by
/// `write_batch` (`unwrap` reads a set value); a column added to the table must be added
/// here too, which the PostgreSQL test run catches if it is required.
/// `then`: more values, bound after the columns.
macro_rules! insert_as_arrays {
    ($pool:expr, $sql:expr, $rows:expr, [$($column:ident),+ $(,)?] $(, then [$($more:expr),+])?) => {{
        let rows = $rows;
        $(let mut $column = Vec::with_capacity(rows.len());)+
        for row in rows {
            $($column.push(row.$column.unwrap());)+
        }
        sea_orm::sqlx::query($sql)
            $(.bind($column))+
            $($(.bind($more))+)?
            .execute($pool)
            .await
            .map_err(crate::store::database::sqlx_failure)
            .map(|_| ())
    }};
}

/// The rollups a batch of impressions adds (see `ImpressionRollups`), as data-modifying CTEs
/// reading the JSON parameters `$days`, `$days + 1` and `$days + 2`.
fn impression_rollup_ctes(days: usize) -> String {
    let (latest, arms) = (days + 1, days + 2);
    format!(
        "WITH impression_days AS ( \
             INSERT INTO impression_rollups (organization_id, day, offer_id, target_id, trig, \
                 impressions) \
             SELECT (r ->> 0)::bigint, r ->> 1, (r ->> 2)::bigint, r ->> 3, r ->> 4, \
                 (r ->> 5)::bigint FROM jsonb_array_elements(${days}::jsonb) AS r \
             ON CONFLICT (organization_id, day, offer_id, target_id, trig) DO UPDATE SET \
                 impressions = impression_rollups.impressions + excluded.impressions \
         ), latest AS ( \
             INSERT INTO latest_intercepts (organization_id, end_user_id, created_at, \
                 target_id, trig) \
             SELECT (r ->> 0)::bigint, (r ->> 1)::bigint, (r ->> 2)::timestamptz, r ->> 3, \
                 r ->> 4 FROM jsonb_array_elements(${latest}::jsonb) AS r \
             ON CONFLICT (organization_id, end_user_id) DO UPDATE SET \
                 created_at = excluded.created_at, target_id = excluded.target_id, \
                 trig = excluded.trig \
             WHERE excluded.created_at >= latest_intercepts.created_at \
         ), arms AS ( \
             INSERT INTO experiment_impressions (experiment_id, arm, impressions) \
             SELECT (r ->> 0)::bigint, r ->> 1, (r ->> 2)::bigint \
             FROM jsonb_array_elements(${arms}::jsonb) AS r \
             ON CONFLICT (experiment_id, arm) DO UPDATE SET \
                 impressions = experiment_impressions.impressions + excluded.impressions \
         ) "
    )
}

/// Impressions with their rollups, one statement.
static IMPRESSIONS_WITH_ROLLUPS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} INSERT INTO impressions (organization_id, end_user_id, target_id, trigger, mrr_e4, \
         offer_ids, experiment_id, experiment_arm, created_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[], $7::bigint[], $8::text[], $9::timestamptz[])",
        impression_rollup_ctes(10)
    )
});

/// The rollups alone, for impressions inserted another way in the same transaction.
static IMPRESSION_ROLLUPS: LazyLock<String> =
    LazyLock::new(|| format!("{} SELECT 1", impression_rollup_ctes(1)));

/// A time as text that PostgreSQL reads back as the `timestamptz` sqlx binds for it (to the
/// microsecond, truncated), and that sorts as PostgreSQL compares them.
fn postgres_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Adds what `impressions`, inserted in the same transaction, add to the rollups.
pub(super) async fn add_impression_rollups_on_postgres(
    db: &impl sea_orm::ConnectionTrait,
    impressions: &[impression::ActiveModel],
) -> Result<(), sea_orm::DbErr> {
    let rollups = ImpressionRollups::of(impressions, postgres_stamp);
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        IMPRESSION_ROLLUPS.as_str(),
        [
            rollups.days.to_string().into(),
            rollups.latest_intercepts.to_string().into(),
            rollups.arms.to_string().into(),
        ],
    ))
    .await
    .map(|_| ())
}

pub(super) async fn insert_impressions_on_postgres(
    pool: &PgPool,
    impressions: Vec<impression::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    let rollups = ImpressionRollups::of(&impressions, postgres_stamp);
    insert_as_arrays!(
        pool,
        IMPRESSIONS_WITH_ROLLUPS.as_str(),
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
        ],
        then [
            rollups.days.to_string(),
            rollups.latest_intercepts.to_string(),
            rollups.arms.to_string()
        ]
    )
}

pub(super) async fn insert_outcomes_on_postgres(
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
pub(super) async fn write_reasons_on_postgres(
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
    let mut language = Vec::with_capacity(reasons.len());
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
        language.push(row.language.unwrap());
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
                 created_at, language) \
             SELECT r.organization_id, r.end_user_id, r.target_id, r.reason, \
                 r.suggested_action, r.category, r.confidence, r.sentiment, i.id, r.created_at, \
                 r.language \
             FROM UNNEST($10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::text[], \
                 $15::text[], $16::float8[], $17::float8[], $18::bigint[], \
                 $19::timestamptz[], $20::text[]) \
                 AS r(organization_id, end_user_id, target_id, reason, suggested_action, \
                     category, confidence, sentiment, ticket_number, created_at, language) \
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
    .bind(language)
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

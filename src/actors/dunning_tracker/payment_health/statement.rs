//! The one statement that writes a batch of payment-health changes and announces them, on
//! SQLite and on PostgreSQL.
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use super::{HealthWrite, PendingWrite};
use crate::domain::payment_event::is_payment_event;
use crate::store::database::WriteTurns;
use crate::store::end_user_changes;

/// Writes a batch of payment-health changes (at most one per end user) in one transaction,
/// as one statement of fixed text whatever the batch's size, the batch bound as arrays:
/// failures update their end users (which count the failures of an open dunning episode) and
/// open an episode when none is; successes update theirs and payments close the episodes with
/// the end users' counts; the change is announced; the Stripe events the writes come from
/// are marked applied.
#[tracing::instrument(skip_all, fields(rows = batch.len()))]
pub(super) async fn write_health(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    origin: u64,
    batch: &[PendingWrite],
) -> Result<(), DbErr> {
    let changed: Vec<(i64, i64)> = batch
        .iter()
        .map(|pending| (pending.organization_id, pending.user.id))
        .collect();
    let announcements = end_user_changes::payloads(Some(origin), &changed);
    if db.get_database_backend() == DbBackend::Postgres {
        let pool = turns
            .group_commit_pool()
            .unwrap_or_else(|| db.get_postgres_connection_pool());
        let columns = HealthColumns::of(batch, announcements);
        return write_health_on_postgres(pool, columns, Utc::now()).await;
    }
    write_health_on_sqlite(db, turns, batch, announcements, Utc::now()).await
}

/// A batch of payment-health writes as the columns PostgreSQL's statement takes.
struct HealthColumns<'a> {
    failed_organizations: Vec<i64>,
    failed_users: Vec<i64>,
    succeeded_users: Vec<i64>,
    events: Vec<&'a str>,
    /// The end users among `succeeded_users` whose success is a payment (which ends dunning).
    paid_users: Vec<i64>,
    announcements: Vec<String>,
    /// The stored Stripe events the batch applies.
    stripe_events: Vec<i64>,
}

impl<'a> HealthColumns<'a> {
    fn of(batch: &'a [PendingWrite], announcements: Vec<String>) -> Self {
        let mut columns = HealthColumns {
            failed_organizations: Vec::new(),
            failed_users: Vec::new(),
            succeeded_users: Vec::new(),
            events: Vec::new(),
            paid_users: Vec::new(),
            announcements,
            stripe_events: batch.iter().filter_map(|p| p.stripe_event).collect(),
        };
        for pending in batch {
            match &pending.write {
                HealthWrite::Failure => {
                    columns.failed_organizations.push(pending.organization_id);
                    columns.failed_users.push(pending.user.id);
                }
                HealthWrite::Success { event } => {
                    columns.succeeded_users.push(pending.user.id);
                    columns.events.push(event.as_str());
                    if is_payment_event(event) {
                        columns.paid_users.push(pending.user.id);
                    }
                }
            }
        }
        columns
    }
}

/// SQLite: the whole batch as one statement of fixed text, an INSERT of its events into the
/// view `payment_health_events`, whose triggers apply them (migrations
/// `m20261130_000003_payment_health_events` and
/// `m20261130_000004_count_open_episodes_on_end_users`), the batch bound as one JSON array
/// that `jsonb_each` reads: it hands each event over as JSONB, which `->>` reads without
/// parsing (`json_each` handed over JSON text, parsed again by every `->>`). One statement is
/// one transaction, and the connection's thread hands back one result: as a script from
/// `BEGIN IMMEDIATE` to `COMMIT` it handed back one per statement, seven, each waking the
/// actors' thread, which on two busy cores mostly took the core from the writer at each
/// hand-off. The connection prepares the statement once and keeps it (built per batch with
/// its values inlined, it was parsed at every commit).
async fn write_health_on_sqlite(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[PendingWrite],
    announcements: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use serde_json::{json, Value};
    // Rows of (kind, organization, end user, event, payment, payload). A batch holds one
    // write per end user, so the order the triggers apply them in does not matter.
    let mut rows: Vec<Value> = batch
        .iter()
        .map(|pending| match &pending.write {
            HealthWrite::Failure => json!([
                "failure",
                pending.organization_id,
                pending.user.id,
                null,
                null,
                null
            ]),
            HealthWrite::Success { event } => json!([
                "success",
                null,
                pending.user.id,
                event,
                is_payment_event(event),
                null
            ]),
        })
        .collect();
    rows.extend(
        announcements
            .into_iter()
            .map(|payload| json!(["announcement", null, null, null, null, payload])),
    );
    // Migration `m20261207_000002_stripe_events_applied_with_payments`.
    rows.extend(batch.iter().filter_map(|pending| {
        let id = pending.stripe_event?;
        Some(json!([
            "stripe_event_applied",
            null,
            null,
            null,
            null,
            id.to_string()
        ]))
    }));
    let query = sea_orm::sqlx::query(
        "INSERT INTO payment_health_events \
             (kind, organization_id, end_user_id, event, payment, payload, at) \
         SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, \
             e.value ->> 5, ?1 \
         FROM jsonb_each(?2) AS e",
    )
    .bind(now)
    .bind(Value::Array(rows).to_string());
    crate::store::database::sqlite_transaction(db, turns, query).await
}

/// The payment-health statement, with `$applied` (a part marking Stripe events applied, or
/// nothing) before its last line.
macro_rules! health_statement {
    ($applied:literal) => {
        concat!(
            // Failures are counted in the statement, so that those recorded by other instances
            // all count. A failure opens a dunning episode; while it is open, the end user's row
            // counts its failures (the episode's row is not written again, one row version and
            // its WAL less per failure). A payment success ends dunning and closes the open
            // episode with the end user's counts as they stood before it (every part of the
            // statement reads the same snapshot, `paid` among them).
            "WITH failed AS ( \
                 UPDATE end_users SET needs_payment_update = TRUE, \
                     payment_failures = payment_failures + 1, \
                     first_failed_at = COALESCE(first_failed_at, $1), last_failed_at = $1, \
                     updated_at = $1 \
                 WHERE id = ANY($3::bigint[]) \
             ), episodes AS ( \
                 INSERT INTO dunning_episodes \
                     (organization_id, end_user_id, started_at, last_failed_at, failures) \
                 SELECT organization_id, end_user_id, $1, $1, 1 \
                 FROM UNNEST($2::bigint[], $3::bigint[]) AS f(organization_id, end_user_id) \
                 ON CONFLICT (end_user_id) WHERE recovered_at IS NULL DO NOTHING \
             ), succeeded AS ( \
                 UPDATE end_users AS u SET last_success_at = $1, \
                     last_success_event = ($5::text[])[array_position($4::bigint[], u.id)], \
                     updated_at = $1, \
                     needs_payment_update = \
                         u.needs_payment_update AND NOT (u.id = ANY($6::bigint[])), \
                     payment_failures = CASE WHEN u.id = ANY($6::bigint[]) THEN 0 \
                         ELSE u.payment_failures END, \
                     first_failed_at = CASE WHEN u.id = ANY($6::bigint[]) THEN NULL \
                         ELSE u.first_failed_at END \
                 WHERE u.id = ANY($4::bigint[]) \
             ), paid AS MATERIALIZED ( \
                 SELECT id, payment_failures, last_failed_at FROM end_users \
                 WHERE id = ANY($6::bigint[]) \
             ), recovered AS ( \
                 UPDATE dunning_episodes AS d SET recovered_at = $1, \
                     recovery_event = ($5::text[])[array_position($4::bigint[], d.end_user_id)], \
                     failures = GREATEST(d.failures, \
                         (SELECT p.payment_failures FROM paid p WHERE p.id = d.end_user_id)), \
                     last_failed_at = COALESCE( \
                         (SELECT p.last_failed_at FROM paid p WHERE p.id = d.end_user_id), \
                         d.last_failed_at) \
                 WHERE d.end_user_id = ANY($6::bigint[]) AND d.recovered_at IS NULL \
             ) \
             ", $applied, "SELECT pg_notify($7, payload) FROM UNNEST($8::text[]) AS payload",
        )
    };
}

/// PostgreSQL: the whole batch as one statement whose text never changes (the batch travels
/// as arrays), so that each connection parses and plans it once; the same statements sent
/// as one simple query with their values inlined were parsed and planned at every commit,
/// a quarter of the server's CPU under a stream of payment failures. One statement is one
/// transaction. Its parts may share it because a batch holds one write per end user: no
/// row is changed by two of them. Each part finds its rows through `= ANY(ids)` on one
/// table, an index condition whatever the table's size when the plan was made (the plan is
/// kept for the connection's life, and the group-commit pool plans without sequential scans;
/// see `WriteTurns`), and joins nothing: a row's event is looked up in the arrays by its
/// position, and the counts a payment copies into its episode come from `paid` (read from
/// the same snapshot before the updates). The joins with the arrays these replace
/// left the join order to the planner, and one of its orders, the arrays outside and
/// `= ANY(ids)` beside the join key inside, runs the whole array's index descents once per
/// row (PostgreSQL 15 does not fold `= x AND = ANY(ids)` on one column).
async fn write_health_on_postgres(
    pool: &sea_orm::sqlx::PgPool,
    columns: HealthColumns<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    // Two texts, each prepared once per connection: a batch with Stripe's events marks them
    // applied (the table exists from migration `m20261206_000001_stripe_webhooks` on).
    let statement = if columns.stripe_events.is_empty() {
        health_statement!("")
    } else {
        health_statement!(
            ", applied AS (UPDATE stripe_events SET applied_at = $1 \
             WHERE id = ANY($9::bigint[])) "
        )
    };
    let query = sea_orm::sqlx::query(statement)
        .bind(now)
        .bind(columns.failed_organizations)
        .bind(columns.failed_users)
        .bind(columns.succeeded_users)
        .bind(columns.events)
        .bind(columns.paid_users)
        .bind(end_user_changes::CHANNEL)
        .bind(columns.announcements);
    let query = if columns.stripe_events.is_empty() {
        query
    } else {
        query.bind(columns.stripe_events)
    };
    query
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(crate::store::database::sqlx_failure)
}

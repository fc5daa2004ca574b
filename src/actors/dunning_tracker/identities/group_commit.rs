//! The identity group commit: the end users a batch of lookups must create or complete,
//! written in one statement per round, then read back.
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use super::find_or_create::find_or_create;
use super::settling::{settle, settled, IdentityWrites, Settled};
use super::{identities_of, rows_naming, Identity};
use crate::actors::Failure;
use crate::domain::EndUserRef;
use crate::store::database::WriteTurns;
use crate::store::end_user_changes;

/// Rounds of read, write and read again before a lookup that still has no row of its own
/// is settled one by one (`find_or_create`). Two lookups of one batch that name the same new
/// identifier are settled in turn: the first creates the row, the second finds it next round.
const WRITE_ROUNDS: usize = 3;

/// Settles lookups (all of one organization) that `rows`, read for them, did not: creates
/// the end users seen for the first time and completes those that gain an identifier, a
/// whole round's writes in one statement, then reads their rows back. Concurrent first
/// sightings of one person (in this batch, another batch being written, or another
/// instance) make one end user: a create that meets a stored row is skipped and the row is
/// read back.
#[tracing::instrument(skip_all, fields(org = organization_id, lookups = lookups.len()))]
pub(crate) async fn create_or_complete(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    organization_id: i64,
    lookups: &[&EndUserRef],
    mut rows: Vec<Identity>,
) -> Vec<Result<Identity, Failure>> {
    let mut results: Vec<Option<Result<Identity, Failure>>> =
        lookups.iter().map(|_| None).collect();
    for round in 0..WRITE_ROUNDS {
        let open: Vec<usize> = (0..lookups.len())
            .filter(|&i| results[i].is_none())
            .collect();
        if open.is_empty() {
            break;
        }
        let mut writes = IdentityWrites::default();
        for &i in &open {
            if let Settled::Found(row) = settle(&rows, lookups[i], &mut writes) {
                results[i] = Some(Ok(row));
            }
        }
        if writes.is_empty() {
            break;
        }
        let written = match write_identities(db, turns, organization_id, &writes).await {
            Ok(written) => written,
            Err(e) => {
                // Nothing of the batch was written (one statement); each lookup settles alone.
                tracing::warn!(error = %e, round, "end-user identity batch failed; settling one by one");
                break;
            }
        };
        // The rows the statement answered (PostgreSQL) take the place of those read before;
        // what they do not settle (a create skipped for a row another writer made, or
        // SQLite, which answers none) is read back.
        rows.retain(|row| written.iter().all(|w| w.id != row.id));
        rows.extend(written);
        let unread: Vec<&EndUserRef> = open
            .iter()
            .filter(|&&i| results[i].is_none() && settled(&rows, lookups[i]).is_none())
            .map(|&i| lookups[i])
            .collect();
        if !unread.is_empty() {
            match rows_naming(db, organization_id, unread.into_iter()).await {
                Ok(read) => {
                    rows.retain(|row| read.iter().all(|r| r.id != row.id));
                    rows.extend(read);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read written end users back");
                    break;
                }
            }
        }
    }
    // A last settle of what the last read shows, then one by one for what is left.
    let mut settled = Vec::with_capacity(lookups.len());
    for (who, result) in lookups.iter().zip(results) {
        let result = match result {
            Some(result) => result,
            None => match self::settled(&rows, who) {
                Some(row) => Ok(row),
                None => find_or_create(db, organization_id, who)
                    .await
                    .map(Identity::from),
            },
        };
        settled.push(result);
    }
    settled
}

/// One statement writes the batch's new end users and added identifiers, and announces the
/// completed end users to other instances (new ones need no announcement: nobody holds
/// them). PostgreSQL answers the rows it wrote; SQLite none (they are read back).
async fn write_identities(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    organization_id: i64,
    writes: &IdentityWrites<'_>,
) -> Result<Vec<Identity>, DbErr> {
    let completed: Vec<(i64, i64)> = writes
        .completed
        .iter()
        .map(|&(id, ..)| (organization_id, id))
        .collect();
    let announcements = end_user_changes::payloads(None, &completed);
    let now = Utc::now();
    if db.get_database_backend() == DbBackend::Postgres {
        let pool = turns
            .identity_pool()
            .unwrap_or_else(|| db.get_postgres_connection_pool());
        return write_identities_on_postgres(pool, organization_id, writes, announcements, now)
            .await;
    }
    write_identities_on_sqlite(db, turns, organization_id, writes, announcements, now)
        .await
        .map(|()| Vec::new())
}

/// SQLite: the batch as one row into the view `end_user_identity_batches`, whose trigger
/// writes it (migration `m20261203_000001_end_user_identity_batches`).
async fn write_identities_on_sqlite(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    organization_id: i64,
    writes: &IdentityWrites<'_>,
    announcements: Vec<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use serde_json::json;
    let created: Vec<_> = writes
        .created
        .iter()
        .map(|(email, customer)| json!([organization_id, email, customer]))
        .collect();
    let completed: Vec<_> = writes
        .completed
        .iter()
        .map(|(id, email, customer)| json!([id, email, customer]))
        .collect();
    let query = sea_orm::sqlx::query(
        "INSERT INTO end_user_identity_batches (created, completed, announcements, at) \
         VALUES (jsonb(?1), jsonb(?2), jsonb(?3), ?4)",
    )
    .bind(serde_json::Value::Array(created).to_string())
    .bind(serde_json::Value::Array(completed).to_string())
    .bind(json!(announcements).to_string())
    .bind(now);
    crate::store::database::sqlite_transaction(db, turns, query).await
}

/// PostgreSQL: the batch as one statement whose text never changes (arrays), on the
/// group-commit pool: new end users are inserted (one that meets a stored row is skipped),
/// completed ones gain their identifiers, and the change is announced at commit. It answers
/// the rows it wrote, so that they need not be read back.
async fn write_identities_on_postgres(
    pool: &sea_orm::sqlx::PgPool,
    organization_id: i64,
    writes: &IdentityWrites<'_>,
    announcements: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Vec<Identity>, DbErr> {
    let (new_emails, new_customers): (Vec<_>, Vec<_>) = writes.created.iter().copied().unzip();
    let mut ids = Vec::with_capacity(writes.completed.len());
    let mut add_emails = Vec::with_capacity(writes.completed.len());
    let mut add_customers = Vec::with_capacity(writes.completed.len());
    for &(id, email, customer) in &writes.completed {
        ids.push(id);
        add_emails.push(email);
        add_customers.push(customer);
    }
    let rows = sea_orm::sqlx::query(
        "WITH created AS ( \
             INSERT INTO end_users (organization_id, email, stripe_customer_id, \
                 needs_payment_update, payment_failures, created_at, updated_at) \
             SELECT $1, n.email, n.customer, FALSE, 0, $2, $2 \
             FROM UNNEST($3::text[], $4::text[]) AS n(email, customer) \
             ON CONFLICT DO NOTHING \
             RETURNING id, email, stripe_customer_id, needs_payment_update, \
                 last_success_at IS NOT NULL AS succeeded \
         ), completed AS ( \
             UPDATE end_users AS u SET email = COALESCE(u.email, c.email), \
                 stripe_customer_id = COALESCE(u.stripe_customer_id, c.customer), \
                 updated_at = $2 \
             FROM UNNEST($5::bigint[], $6::text[], $7::text[]) AS c(id, email, customer) \
             WHERE u.id = c.id \
             RETURNING u.id, u.email, u.stripe_customer_id, u.needs_payment_update, \
                 u.last_success_at IS NOT NULL AS succeeded \
         ) \
         SELECT * FROM created UNION ALL SELECT * FROM completed \
         UNION ALL \
         SELECT NULL, NULL, NULL, NULL, NULL FROM ( \
             SELECT count(pg_notify($8, payload)) AS sent FROM UNNEST($9::text[]) AS payload \
         ) AS announced WHERE announced.sent < 0",
    )
    .bind(organization_id)
    .bind(now)
    .bind(new_emails)
    .bind(new_customers)
    .bind(ids)
    .bind(add_emails)
    .bind(add_customers)
    .bind(end_user_changes::CHANNEL)
    .bind(announcements)
    .fetch_all(pool)
    .await
    .map_err(crate::store::database::sqlx_failure)?;
    identities_of(organization_id, &rows)
}

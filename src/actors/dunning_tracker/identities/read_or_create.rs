//! The batched read of end users a set of lookups names, which also creates those nobody
//! stored (PostgreSQL in the same statement, SQLite in one INSERT before the read).
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use super::{identities_of, rows_naming, Identity};
use crate::domain::EndUserRef;
use crate::store::database::WriteTurns;

/// The rows that settle a batch of lookups, as far as one write can: the stored end users
/// they name and, created first, those of them that name nobody stored (each lookup whose
/// identifiers no other lookup of the batch shares; the others, and end users that gain an
/// identifier, are settled by `create_or_complete`). PostgreSQL does both in one statement;
/// SQLite inserts in the writers' turn, then reads. A lookup is a cache miss, and most cache
/// misses are end users seen for the first time; a batch of returning ones inserts nothing.
pub(crate) async fn read_or_create(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    organization_id: i64,
    lookups: &[&EndUserRef],
) -> Result<Vec<Identity>, DbErr> {
    let fresh = unshared(lookups);
    let now = Utc::now();
    if let Some(pool) = turns.identity_pool() {
        return read_or_create_on_postgres(pool, organization_id, lookups, &fresh, now).await;
    }
    if db.get_database_backend() == DbBackend::Sqlite && fresh.iter().any(|&f| f) {
        create_unstored_on_sqlite(db, turns, organization_id, lookups, &fresh, now).await?;
    }
    rows_naming(db, organization_id, lookups.iter().copied()).await
}

/// Which lookups may be created as they stand: the first of those that name the same end
/// user the same way (the intercept and the offers it selects, say, both look one up), when
/// no other lookup of the batch names one of its identifiers otherwise; for those, which
/// makes the row is decided by `settle`.
fn unshared(lookups: &[&EndUserRef]) -> Vec<bool> {
    let ids = |who: &EndUserRef| {
        [
            who.email.as_ref().map(|e| (true, e.as_str().to_owned())),
            who.stripe_customer_id.clone().map(|c| (false, c)),
        ]
    };
    let first: Vec<bool> = (0..lookups.len())
        .map(|i| lookups[..i].iter().all(|earlier| earlier != &lookups[i]))
        .collect();
    let mut seen = std::collections::HashMap::<(bool, String), usize>::new();
    for (who, _) in lookups.iter().zip(&first).filter(|(_, &first)| first) {
        for id in ids(who).into_iter().flatten() {
            *seen.entry(id).or_default() += 1;
        }
    }
    lookups
        .iter()
        .zip(first)
        .map(|(who, first)| first && ids(who).into_iter().flatten().all(|id| seen[&id] == 1))
        .collect()
}

async fn read_or_create_on_postgres(
    pool: &sea_orm::sqlx::PgPool,
    organization_id: i64,
    lookups: &[&EndUserRef],
    fresh: &[bool],
    now: DateTime<Utc>,
) -> Result<Vec<Identity>, DbErr> {
    let emails: Vec<Option<&str>> = lookups
        .iter()
        .map(|w| w.email.as_ref().map(|e| e.as_str()))
        .collect();
    let customers: Vec<Option<&str>> = lookups
        .iter()
        .map(|w| w.stripe_customer_id.as_deref())
        .collect();
    let rows = sea_orm::sqlx::query(
        "WITH found AS ( \
             SELECT id, email, stripe_customer_id, needs_payment_update, \
                 last_success_at IS NOT NULL AS succeeded \
             FROM end_users \
             WHERE organization_id = $1 \
                 AND (email = ANY($2::text[]) OR stripe_customer_id = ANY($3::text[])) \
         ), created AS ( \
             INSERT INTO end_users (organization_id, email, stripe_customer_id, \
                 needs_payment_update, payment_failures, created_at, updated_at) \
             SELECT $1, w.email, w.customer, FALSE, 0, $5, $5 \
             FROM UNNEST($2::text[], $3::text[], $4::boolean[]) AS w(email, customer, fresh) \
             WHERE w.fresh AND NOT EXISTS (SELECT 1 FROM found f \
                 WHERE f.email = w.email OR f.stripe_customer_id = w.customer) \
             ON CONFLICT DO NOTHING \
             RETURNING id, email, stripe_customer_id, needs_payment_update, \
                 last_success_at IS NOT NULL AS succeeded \
         ) \
         SELECT * FROM found UNION ALL SELECT * FROM created",
    )
    .bind(organization_id)
    .bind(emails)
    .bind(customers)
    .bind(fresh)
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(crate::store::database::sqlx_failure)?;
    identities_of(organization_id, &rows)
}

/// SQLite: inserts, in one statement in the writers' turn, the lookups marked `fresh` that
/// name nobody stored (one that meets a stored row is skipped).
async fn create_unstored_on_sqlite(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    organization_id: i64,
    lookups: &[&EndUserRef],
    fresh: &[bool],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let rows: Vec<serde_json::Value> = lookups
        .iter()
        .zip(fresh)
        .filter(|(_, &fresh)| fresh)
        .map(|(who, _)| {
            serde_json::json!([
                who.email.as_ref().map(|e| e.as_str()),
                who.stripe_customer_id
            ])
        })
        .collect();
    let query = sea_orm::sqlx::query(
        "INSERT INTO end_users (organization_id, email, stripe_customer_id, \
             needs_payment_update, payment_failures, created_at, updated_at) \
         SELECT ?1, w.value ->> 0, w.value ->> 1, 0, 0, ?3, ?3 FROM jsonb_each(?2) AS w \
         WHERE NOT EXISTS (SELECT 1 FROM end_users AS f WHERE f.organization_id = ?1 \
             AND (f.email = w.value ->> 0 OR f.stripe_customer_id = w.value ->> 1)) \
         ON CONFLICT DO NOTHING",
    )
    .bind(organization_id)
    .bind(serde_json::Value::Array(rows).to_string())
    .bind(now);
    crate::store::database::sqlite_transaction(db, turns, query).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    fn who(email: Option<&str>, customer: Option<&str>) -> EndUserRef {
        EndUserRef {
            email: email.map(|e| Email::parse(e).unwrap()),
            stripe_customer_id: customer.map(str::to_owned),
        }
    }

    #[test]
    fn only_lookups_that_share_no_identifier_are_created_as_they_stand() {
        let a = who(Some("a@example.com"), None);
        let b = who(Some("b@example.com"), Some("cus_1"));
        let c = who(None, Some("cus_1"));
        let d = who(Some("d@example.com"), Some("cus_4"));
        // The same end user named twice the same way is created once.
        assert_eq!(
            unshared(&[&a, &b, &c, &d, &a.clone()]),
            [true, false, false, true, false]
        );
    }
}

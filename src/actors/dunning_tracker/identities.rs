//! Finding end users by what a request names, and creating or completing them in batches.
//!
//! A cancel flow mostly meets an end user for the first time, so creating end users is on
//! the hot path as much as finding them. The lookups that share a query (`read_or_create`)
//! also create the end users they name that nobody stored: PostgreSQL in the same statement,
//! SQLite in one INSERT in the writers' turn before the read. What that leaves open — an end
//! user that gains an identifier, or lookups of one batch that share one — is settled by the
//! identity group commit (`create_or_complete`, one in flight): one statement of fixed text
//! creates and completes the whole batch (PostgreSQL: data-modifying CTEs over arrays;
//! SQLite: one row into the view `end_user_identity_batches`) and announces the completed end
//! users once for the commit; each lookup then picks its row as before.
use chrono::{DateTime, Utc};
use entity::end_user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbBackend,
    DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Select, SqlErr,
};

use super::end_user_cache::{Identifiers, Known};
use super::EndUserState;
use crate::actors::Failure;
use crate::domain::EndUserRef;
use crate::store::database::WriteTurns;
use crate::store::end_user_changes;

/// Rounds of read, write and read again before a lookup that still has no row of its own
/// is settled one by one (`find_or_create`). Two lookups of one batch that name the same new
/// identifier are settled in turn: the first creates the row, the second finds it next round.
const WRITE_ROUNDS: usize = 3;

/// The columns of an end user that the cache keeps: a lookup reads and decodes only these.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct Identity {
    pub organization_id: i64,
    pub id: i64,
    email: Option<String>,
    stripe_customer_id: Option<String>,
    needs_payment_update: bool,
    succeeded: bool,
}

impl Identity {
    /// Selects the identity columns of end users.
    fn select() -> Select<end_user::Entity> {
        end_user::Entity::find()
            .select_only()
            .columns([
                end_user::Column::OrganizationId,
                end_user::Column::Id,
                end_user::Column::Email,
                end_user::Column::StripeCustomerId,
                end_user::Column::NeedsPaymentUpdate,
            ])
            .column_as(end_user::Column::LastSuccessAt.is_not_null(), "succeeded")
    }

    pub fn known(&self) -> Known {
        Known {
            id: self.id,
            state: EndUserState {
                id: self.id,
                show_update_card: self.needs_payment_update,
                show_onboarding_prompt: !self.succeeded,
                has_stripe_customer: self.stripe_customer_id.is_some(),
            },
            known_at: std::time::Instant::now(),
        }
    }

    pub fn identifiers(&self) -> Identifiers<'_> {
        Identifiers {
            email: self.email.as_deref(),
            customer: self.stripe_customer_id.as_deref(),
        }
    }

    /// The identifiers `who` names that this row lacks: (email, Stripe customer id).
    fn lacks<'w>(&self, who: &'w EndUserRef) -> (Option<&'w str>, Option<&'w str>) {
        let email = who.email.as_ref().map(|e| e.as_str());
        let customer = who.stripe_customer_id.as_deref();
        (
            email.filter(|_| self.email.is_none()),
            customer.filter(|_| self.stripe_customer_id.is_none()),
        )
    }
}

impl From<end_user::Model> for Identity {
    fn from(user: end_user::Model) -> Self {
        Identity {
            organization_id: user.organization_id,
            id: user.id,
            email: user.email,
            stripe_customer_id: user.stripe_customer_id,
            needs_payment_update: user.needs_payment_update,
            succeeded: user.last_success_at.is_some(),
        }
    }
}

/// The newest end users (of every organization) with an id below `before`, newest first.
#[tracing::instrument(skip(db))]
pub(super) async fn newest_identities(
    db: &DatabaseConnection,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Identity>, DbErr> {
    let mut select = Identity::select();
    if let Some(before) = before {
        select = select.filter(end_user::Column::Id.lt(before));
    }
    select
        .order_by_desc(end_user::Column::Id)
        .limit(limit as u64)
        .into_model::<Identity>()
        .all(db)
        .await
}

/// The stored end users of the organization that own any identifier the lookups name.
pub(super) async fn rows_naming<'a>(
    db: &DatabaseConnection,
    organization_id: i64,
    who: impl Iterator<Item = &'a EndUserRef>,
) -> Result<Vec<Identity>, DbErr> {
    let mut emails: Vec<&str> = Vec::new();
    let mut customers: Vec<&str> = Vec::new();
    for who in who {
        if let Some(email) = &who.email {
            emails.push(email.as_str());
        }
        if let Some(customer) = &who.stripe_customer_id {
            customers.push(customer.as_str());
        }
    }
    emails.sort_unstable();
    emails.dedup();
    customers.sort_unstable();
    customers.dedup();
    let mut any = Condition::any();
    if !emails.is_empty() {
        any = any.add(end_user::Column::Email.is_in(emails));
    }
    if !customers.is_empty() {
        any = any.add(end_user::Column::StripeCustomerId.is_in(customers));
    }
    Identity::select()
        .filter(end_user::Column::OrganizationId.eq(organization_id))
        .filter(any)
        .into_model::<Identity>()
        .all(db)
        .await
}

/// The rows that settle a batch of lookups, as far as one write can: the stored end users
/// they name and, created first, those of them that name nobody stored (each lookup whose
/// identifiers no other lookup of the batch shares; the others, and end users that gain an
/// identifier, are settled by `create_or_complete`). PostgreSQL does both in one statement;
/// SQLite inserts in the writers' turn, then reads. A lookup is a cache miss, and most cache
/// misses are end users seen for the first time; a batch of returning ones inserts nothing.
pub(super) async fn read_or_create(
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

/// Rows of (id, email, stripe_customer_id, needs_payment_update, succeeded) as identities.
fn identities_of(
    organization_id: i64,
    rows: &[sea_orm::sqlx::postgres::PgRow],
) -> Result<Vec<Identity>, DbErr> {
    use sea_orm::sqlx::Row;
    rows.iter()
        .map(|row| {
            Ok(Identity {
                organization_id,
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                stripe_customer_id: row.try_get("stripe_customer_id")?,
                needs_payment_update: row.try_get("needs_payment_update")?,
                succeeded: row.try_get("succeeded")?,
            })
        })
        .collect::<Result<_, sea_orm::sqlx::Error>>()
        .map_err(crate::store::database::sqlx_failure)
}

/// The row `who` names: by Stripe customer id (the stronger identity when the two point at
/// different rows), else by email.
fn pick<'r>(rows: &'r [Identity], who: &EndUserRef) -> Option<&'r Identity> {
    let email = who.email.as_ref().map(|e| e.as_str());
    let customer = who.stripe_customer_id.as_deref();
    let by_customer = customer.and_then(|c| {
        rows.iter()
            .find(|u| u.stripe_customer_id.as_deref() == Some(c))
    });
    by_customer.or_else(|| email.and_then(|e| rows.iter().find(|u| u.email.as_deref() == Some(e))))
}

/// What a batch of lookups writes before each finds a complete row: end users to create
/// (email, Stripe customer id) and identifiers to add to known ones (id, email, customer).
#[derive(Default)]
struct IdentityWrites<'a> {
    created: Vec<(Option<&'a str>, Option<&'a str>)>,
    completed: Vec<(i64, Option<&'a str>, Option<&'a str>)>,
    /// Identifiers this batch writes: no two of its rows may take the same one.
    claimed: std::collections::HashSet<(bool, &'a str)>,
}

impl<'a> IdentityWrites<'a> {
    fn is_empty(&self) -> bool {
        self.created.is_empty() && self.completed.is_empty()
    }

    /// Claims the identifiers a write takes; false (claiming nothing) when another write of
    /// the batch has one of them.
    fn claim(&mut self, email: Option<&'a str>, customer: Option<&'a str>) -> bool {
        let wanted = [email.map(|e| (true, e)), customer.map(|c| (false, c))];
        if wanted.iter().flatten().any(|id| self.claimed.contains(id)) {
            return false;
        }
        self.claimed.extend(wanted.into_iter().flatten());
        true
    }
}

/// Where one lookup stands after a read.
enum Settled {
    /// Its row, complete (or as complete as it may be made).
    Found(Identity),
    /// It needs a write first (or another round, when another lookup of the batch claimed
    /// one of its identifiers).
    Waiting,
}

/// Decides, from the rows read, what each unsettled lookup needs, and adds the writes that
/// settle it to `writes`.
fn settle<'a>(rows: &[Identity], who: &'a EndUserRef, writes: &mut IdentityWrites<'a>) -> Settled {
    let email = who.email.as_ref().map(|e| e.as_str());
    let customer = who.stripe_customer_id.as_deref();
    let Some(row) = pick(rows, who) else {
        writes
            .claim(email, customer)
            .then(|| writes.created.push((email, customer)));
        return Settled::Waiting;
    };
    let (add_email, add_customer) = row.lacks(who);
    // An identifier another row already owns is not taken from it: the two rows stay
    // distinct rather than being merged by guesswork.
    let owned = |email: Option<&str>, customer: Option<&str>| {
        rows.iter().any(|u| {
            u.id != row.id
                && (email.is_some() && u.email.as_deref() == email
                    || customer.is_some() && u.stripe_customer_id.as_deref() == customer)
        })
    };
    let add_email = add_email.filter(|e| !owned(Some(e), None));
    let add_customer = add_customer.filter(|c| !owned(None, Some(c)));
    if add_email.is_none() && add_customer.is_none() {
        return Settled::Found(row.clone());
    }
    if writes.claim(add_email, add_customer) {
        writes.completed.push((row.id, add_email, add_customer));
    }
    Settled::Waiting
}

/// The row that settles a lookup as it stands, if the rows read hold it: the end user it
/// names, with every identifier the lookup names (or as many as may be added: one another
/// row owns stays with that row). None: it must be created or completed first.
pub(super) fn settled(rows: &[Identity], who: &EndUserRef) -> Option<Identity> {
    match settle(rows, who, &mut IdentityWrites::default()) {
        Settled::Found(row) => Some(row),
        Settled::Waiting => None,
    }
}

/// Settles lookups (all of one organization) that `rows`, read for them, did not: creates
/// the end users seen for the first time and completes those that gain an identifier, a
/// whole round's writes in one statement, then reads their rows back. Concurrent first
/// sightings of one person (in this batch, another batch being written, or another
/// instance) make one end user: a create that meets a stored row is skipped and the row is
/// read back.
#[tracing::instrument(skip_all, fields(org = organization_id, lookups = lookups.len()))]
pub(super) async fn create_or_complete(
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

/// Finds the end user by Stripe customer id or email within the organization, filling in
/// whichever identifier it lacks; creates it when neither is known. Safe under concurrency:
/// a lost insert race reads the winner's row. The one-by-one path for what a batch could not
/// settle (a batch that failed, or identifiers contended round after round).
#[tracing::instrument(skip(db))]
pub(super) async fn find_or_create(
    db: &DatabaseConnection,
    organization_id: i64,
    who: &EndUserRef,
) -> Result<end_user::Model, Failure> {
    let email = who.email.as_ref().map(|e| e.as_str().to_owned());
    let customer = who.stripe_customer_id.clone();
    for _ in 0..3 {
        let mut any = Condition::any();
        if let Some(email) = &email {
            any = any.add(end_user::Column::Email.eq(email.clone()));
        }
        if let Some(customer) = &customer {
            any = any.add(end_user::Column::StripeCustomerId.eq(customer.clone()));
        }
        let found = end_user::Entity::find()
            .filter(end_user::Column::OrganizationId.eq(organization_id))
            .filter(any)
            .all(db)
            .await?;
        // The Stripe customer is the stronger identity when the two point at different rows.
        let chosen = found
            .iter()
            .find(|u| customer.is_some() && u.stripe_customer_id == customer)
            .or_else(|| found.first())
            .cloned();
        if let Some(user) = chosen {
            return Ok(complete_identity(db, user, &email, &customer).await);
        }
        let now = Utc::now();
        let created = end_user::ActiveModel {
            organization_id: Set(organization_id),
            email: Set(email.clone()),
            stripe_customer_id: Set(customer.clone()),
            needs_payment_update: Set(false),
            payment_failures: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await;
        match created {
            Ok(user) => return Ok(user),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unexpected(anyhow::anyhow!(
        "could not settle on an end user after repeated conflicts"
    )))
}

/// Records an identifier the row lacks. If another row already owns it, the row is kept as
/// it is (the two stay distinct rather than being merged by guesswork).
async fn complete_identity(
    db: &DatabaseConnection,
    user: end_user::Model,
    email: &Option<String>,
    customer: &Option<String>,
) -> end_user::Model {
    let add_email = user.email.is_none() && email.is_some();
    let add_customer = user.stripe_customer_id.is_none() && customer.is_some();
    if !add_email && !add_customer {
        return user;
    }
    let mut active: end_user::ActiveModel = user.clone().into();
    if add_email {
        active.email = Set(email.clone());
    }
    if add_customer {
        active.stripe_customer_id = Set(customer.clone());
    }
    active.updated_at = Set(Utc::now());
    match active.update(db).await {
        Ok(updated) => {
            // Other instances may hold the row without the identifier just added.
            let changed = [(updated.organization_id, updated.id)];
            if let Err(e) = end_user_changes::announce(db, None, &changed).await {
                tracing::warn!(error = %e, user = updated.id, "could not announce an end-user change");
            }
            updated
        }
        Err(e) => {
            if !is_unique_violation(&e) {
                tracing::warn!(error = %e, user = user.id, "could not complete end user identity");
            }
            user
        }
    }
}

pub(super) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
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

    fn row(id: i64, email: Option<&str>, customer: Option<&str>) -> Identity {
        Identity {
            organization_id: 1,
            id,
            email: email.map(str::to_owned),
            stripe_customer_id: customer.map(str::to_owned),
            needs_payment_update: false,
            succeeded: false,
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

    #[test]
    fn a_lookup_completes_its_row_unless_another_row_owns_the_identifier() {
        let rows = [
            row(1, Some("a@example.com"), None),
            row(2, None, Some("cus_taken")),
        ];
        let mut writes = IdentityWrites::default();
        let gains = who(Some("a@example.com"), Some("cus_new"));
        assert!(matches!(
            settle(&rows, &gains, &mut writes),
            Settled::Waiting
        ));
        assert_eq!(writes.completed, [(1, None, Some("cus_new"))]);
        // The customer id belongs to row 2: the lookup picks row 2 (the stronger identity),
        // which cannot take the email row 1 owns, so it is settled as it is.
        let mut writes = IdentityWrites::default();
        let owned = who(Some("a@example.com"), Some("cus_taken"));
        assert!(matches!(settle(&rows, &owned, &mut writes), Settled::Found(r) if r.id == 2));
        assert!(writes.is_empty());
        // Nobody stored: created, and a second lookup claiming the same email waits a round.
        let mut writes = IdentityWrites::default();
        let new = who(Some("new@example.com"), None);
        let same = who(Some("new@example.com"), Some("cus_9"));
        assert!(matches!(settle(&rows, &new, &mut writes), Settled::Waiting));
        assert!(matches!(
            settle(&rows, &same, &mut writes),
            Settled::Waiting
        ));
        assert_eq!(writes.created, [(Some("new@example.com"), None)]);
    }
}

//! The events Stripe delivered, stored once per organization and event id and claimed before
//! they are applied, so that two deliveries never both apply one. Written in group commits:
//! whatever deliveries arrive while a batch is written go into the next one, one statement
//! of fixed text to store and claim a batch (and one to read which of its claims a newer
//! stored fact supersedes) and one to mark a batch applied, instead of two transactions and
//! a read per event.
use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{sqlx, ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::{json, Value};

use crate::domain::stripe_event::{Effect, StripeEvent};
use crate::store::coalescer::Coalescer;
use crate::store::database::{
    sqlite_time, sqlite_transaction, sqlite_transaction_in_turn, sqlx_failure, WriteTurns,
};

/// A claim on an event older than this is taken to be a crashed delivery's: another delivery
/// may apply the event.
const CLAIM_SECONDS: i64 = 60;

/// Deliveries written together in one statement, at most.
const EVENT_BATCH: usize = 512;

/// What storing an event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// This delivery holds the claim: apply the event, then `applied` (or `release`).
    /// `superseded`: the customer already has a newer fact that this event must not undo
    /// (`Effect::superseded_by`), so applying it changes nothing.
    Claimed { id: i64, superseded: bool },
    /// Stored already, and applied or being applied by another delivery.
    Duplicate,
}

/// One delivery to store: the organization, the event and when it arrived.
struct Delivery {
    organization_id: i64,
    event: StripeEvent,
    now: DateTime<Utc>,
}

/// The stored events' two group commits: storing and claiming, and marking applied.
pub struct StoredEvents {
    stores: Coalescer<Delivery, Result<Stored, String>>,
    applied: Coalescer<(i64, DateTime<Utc>), Result<(), String>>,
}

impl StoredEvents {
    /// Starts both batchers on the current runtime. On SQLite they write in the writers'
    /// turn (a statement outside the turns would wait for SQLite's lock).
    pub fn start(db: DatabaseConnection, turns: WriteTurns) -> Self {
        let (store_db, store_turns) = (db.clone(), turns.clone());
        let stores = Coalescer::start("stripe events", EVENT_BATCH, 1, move |batch| {
            let (db, turns) = (store_db.clone(), store_turns.clone());
            async move {
                let count = batch.len();
                store_batch(&db, &turns, &batch)
                    .await
                    .unwrap_or_else(|e| vec![Err(format!("{e:#}")); count])
            }
        });
        let applied = Coalescer::start("applied stripe events", EVENT_BATCH, 1, move |batch| {
            let (db, turns) = (db.clone(), turns.clone());
            async move {
                let written = mark_applied(&db, &turns, &batch)
                    .await
                    .map_err(|e| format!("{e:#}"));
                vec![written; batch.len()]
            }
        });
        StoredEvents { stores, applied }
    }

    /// Stores the event (once per organization and event id) and claims it for applying.
    pub async fn store(
        &self,
        organization_id: i64,
        event: StripeEvent,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Stored> {
        self.stores
            .call(Delivery {
                organization_id,
                event,
                now,
            })
            .await?
            .map_err(anyhow::Error::msg)
            .context("storing a Stripe event")
    }

    /// The event is applied: later deliveries change nothing.
    pub async fn applied(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.applied
            .call((id, now))
            .await?
            .map_err(anyhow::Error::msg)
            .context("marking a Stripe event applied")
    }
}

/// Stores a batch in one statement: a new event is inserted claimed; a stored one is claimed
/// when unapplied and unclaimed (or claimed by a delivery that died); the rows the statement
/// returns are the claims. An event twice in one batch is claimed by its first delivery.
#[tracing::instrument(skip_all, fields(events = batch.len()))]
async fn store_batch(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[Delivery],
) -> Result<Vec<Result<Stored, String>>, DbErr> {
    let mut first = HashMap::with_capacity(batch.len());
    let unique: Vec<&Delivery> = batch
        .iter()
        .enumerate()
        .filter(|(i, d)| {
            *first
                .entry((d.organization_id, d.event.id.as_str()))
                .or_insert(*i)
                == *i
        })
        .map(|(_, d)| d)
        .collect();
    // One time for the batch: the latest delivery's.
    let now = batch.iter().map(|d| d.now).max().unwrap_or_else(Utc::now);
    let stale = now - Duration::seconds(CLAIM_SECONDS);
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let (claimed, superseded) = if postgres {
        let claimed = store_postgres(db, &unique, now, stale).await?;
        let checks = supersede_checks(&unique, &claimed);
        let superseded = superseded_postgres(db, &checks).await?;
        (claimed, superseded)
    } else {
        store_sqlite(db, turns, &unique, now, stale).await?
    };
    let claimed: HashMap<(i64, &str), i64> = claimed
        .iter()
        .map(|(id, org, event)| ((*org, event.as_str()), *id))
        .collect();
    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let key = (d.organization_id, d.event.id.as_str());
            Ok(match claimed.get(&key) {
                Some(id) if first.get(&key) == Some(&i) => Stored::Claimed {
                    id: *id,
                    superseded: superseded.contains(id),
                },
                _ => Stored::Duplicate,
            })
        })
        .collect())
}

/// The columns a delivery writes (both backends' statements).
macro_rules! store_columns {
    () => {
        "INSERT INTO stripe_events (organization_id, event_id, event_type, event_created, \
         stripe_customer_id, stripe_subscription_id, effect, cancellation_reason, \
         cancellation_feedback, cancellation_comment, received_at, claimed_at) "
    };
}

/// A stored event is claimed again only when unapplied and unclaimed, or claimed before the
/// time bound last (a delivery that died); the statement's rows are the claims.
macro_rules! claim_unclaimed {
    ($stale:literal) => {
        concat!(
            "ON CONFLICT (organization_id, event_id) DO UPDATE \
             SET claimed_at = excluded.claimed_at \
             WHERE stripe_events.applied_at IS NULL \
             AND (stripe_events.claimed_at IS NULL OR stripe_events.claimed_at < ",
            $stale,
            ") RETURNING id, organization_id, event_id"
        )
    };
}

/// A claimed event to weigh against the newer facts stored: its row, organization and
/// customer, the effect that would supersede it, since when, and whether the same second
/// counts.
struct SupersedeCheck<'a> {
    id: i64,
    organization_id: i64,
    customer: &'a str,
    effect: Effect,
    since: DateTime<Utc>,
    inclusive: bool,
}

fn supersede_checks<'a>(
    batch: &[&'a Delivery],
    claimed: &[(i64, i64, String)],
) -> Vec<SupersedeCheck<'a>> {
    let rows: HashMap<(i64, &str), i64> = claimed
        .iter()
        .map(|(id, org, event)| ((*org, event.as_str()), *id))
        .collect();
    batch
        .iter()
        .filter_map(|d| {
            let id = *rows.get(&(d.organization_id, d.event.id.as_str()))?;
            let (effect, inclusive) = d.event.effect.superseded_by()?;
            Some(SupersedeCheck {
                id,
                organization_id: d.organization_id,
                customer: d.event.customer.as_deref()?,
                effect,
                since: d.event.created,
                inclusive,
            })
        })
        .collect()
}

async fn store_sqlite(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[&Delivery],
    now: DateTime<Utc>,
    stale: DateTime<Utc>,
) -> Result<(Vec<(i64, i64, String)>, HashSet<i64>), DbErr> {
    let rows: Vec<Value> = batch
        .iter()
        .map(|d| {
            let (event, details) = (&d.event, &d.event.cancellation);
            json!([
                d.organization_id,
                event.id,
                event.kind,
                sqlite_time(event.created),
                event.customer,
                event.subscription,
                event.effect.as_str(),
                details.reason,
                details.feedback,
                details.comment,
            ])
        })
        .collect();
    let statement = sqlx::query(concat!(
        store_columns!(),
        "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
         value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, ?2, ?2 \
         FROM json_each(?1) WHERE true ",
        claim_unclaimed!("?3")
    ))
    .bind(Value::Array(rows).to_string())
    .bind(sqlite_time(now))
    .bind(sqlite_time(stale));
    let Some(mut turn) = turns.take().await else {
        return Err(DbErr::Custom("SQLite writes need writers' turns".into()));
    };
    let rows = sqlite_transaction_in_turn(db, &mut turn, statement).await?;
    let claimed = rows
        .iter()
        .map(|row| {
            use sqlx::Row;
            Ok((
                row.try_get(0).map_err(sqlx_failure)?,
                row.try_get(1).map_err(sqlx_failure)?,
                row.try_get(2).map_err(sqlx_failure)?,
            ))
        })
        .collect::<Result<Vec<(i64, i64, String)>, DbErr>>()?;
    let checks = supersede_checks(batch, &claimed);
    if checks.is_empty() {
        return Ok((claimed, HashSet::new()));
    }
    // On the writer's connection, whose cache the upsert just warmed.
    let checks: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!([
                c.id,
                c.organization_id,
                c.customer,
                c.effect.as_str(),
                sqlite_time(c.since),
                c.inclusive
            ])
        })
        .collect();
    let query = sqlx::query_scalar::<_, i64>(
        "SELECT b.value ->> 0 FROM json_each(?1) AS b WHERE EXISTS (SELECT 1 FROM stripe_events AS e \
         WHERE e.organization_id = b.value ->> 1 AND e.stripe_customer_id = b.value ->> 2 \
         AND e.effect = b.value ->> 3 AND e.event_created >= b.value ->> 4 \
         AND (b.value ->> 5 OR e.event_created > b.value ->> 4))",
    )
    .bind(Value::Array(checks).to_string());
    let conn = turn
        .as_mut()
        .ok_or_else(|| DbErr::Custom("the writers' connection closed".into()))?;
    let superseded = query.fetch_all(&mut *conn).await.map_err(sqlx_failure)?;
    Ok((claimed, superseded.into_iter().collect()))
}

/// The claims a newer stored fact supersedes, in one query.
async fn superseded_postgres(
    db: &DatabaseConnection,
    checks: &[SupersedeCheck<'_>],
) -> Result<HashSet<i64>, DbErr> {
    if checks.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query_scalar::<_, i64>(
        "SELECT b.id FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
         $5::timestamptz[], $6::bool[]) AS b(id, o, cu, ef, since, incl) \
         WHERE EXISTS (SELECT 1 FROM stripe_events AS e WHERE e.organization_id = b.o \
         AND e.stripe_customer_id = b.cu AND e.effect = b.ef AND e.event_created >= b.since \
         AND (b.incl OR e.event_created > b.since))",
    )
    .bind(checks.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(checks.iter().map(|c| c.organization_id).collect::<Vec<_>>())
    .bind(
        checks
            .iter()
            .map(|c| c.customer.to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(
        checks
            .iter()
            .map(|c| c.effect.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(checks.iter().map(|c| c.since).collect::<Vec<_>>())
    .bind(checks.iter().map(|c| c.inclusive).collect::<Vec<_>>())
    .fetch_all(db.get_postgres_connection_pool())
    .await
    .map_err(sqlx_failure)?;
    Ok(rows.into_iter().collect())
}

async fn store_postgres(
    db: &DatabaseConnection,
    batch: &[&Delivery],
    now: DateTime<Utc>,
    stale: DateTime<Utc>,
) -> Result<Vec<(i64, i64, String)>, DbErr> {
    let column = |f: &dyn Fn(&Delivery) -> Option<String>| -> Vec<Option<String>> {
        batch.iter().map(|d| f(d)).collect()
    };
    let organizations: Vec<i64> = batch.iter().map(|d| d.organization_id).collect();
    let created: Vec<DateTime<Utc>> = batch.iter().map(|d| d.event.created).collect();
    let text = concat!(
        store_columns!(),
        "SELECT o, e, t, c, cu, su, ef, r, f, co, $11, $11 \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) \
         AS b(o, e, t, c, cu, su, ef, r, f, co) ",
        claim_unclaimed!("$12")
    );
    let rows = sqlx::query_as::<_, (i64, i64, String)>(text)
        .bind(organizations)
        .bind(column(&|d| Some(d.event.id.clone())))
        .bind(column(&|d| Some(d.event.kind.clone())))
        .bind(created)
        .bind(column(&|d| d.event.customer.clone()))
        .bind(column(&|d| d.event.subscription.clone()))
        .bind(column(&|d| Some(d.event.effect.as_str().to_owned())))
        .bind(column(&|d| d.event.cancellation.reason.clone()))
        .bind(column(&|d| d.event.cancellation.feedback.clone()))
        .bind(column(&|d| d.event.cancellation.comment.clone()))
        .bind(now)
        .bind(stale)
        .fetch_all(db.get_postgres_connection_pool())
        .await
        .map_err(sqlx_failure)?;
    Ok(rows)
}

/// Marks a batch of events applied in one statement (at the latest time asked for).
#[tracing::instrument(skip_all, fields(events = batch.len()))]
async fn mark_applied(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[(i64, DateTime<Utc>)],
) -> Result<(), DbErr> {
    let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
    let now = batch
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_else(Utc::now);
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        sqlx::query("UPDATE stripe_events SET applied_at = $1 WHERE id = ANY($2::bigint[])")
            .bind(now)
            .bind(ids)
            .execute(db.get_postgres_connection_pool())
            .await
            .map_err(sqlx_failure)?;
        return Ok(());
    }
    let statement = sqlx::query(
        "UPDATE stripe_events SET applied_at = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
    )
    .bind(sqlite_time(now))
    .bind(json!(ids).to_string());
    sqlite_transaction(db, turns, statement).await
}

/// Applying failed: the next delivery (Stripe retries) may claim the event again.
pub async fn release(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    let update = Query::update()
        .table(Events::Table)
        // An untyped NULL: a NULL bound as text would not go into PostgreSQL's timestamptz.
        .value(Events::ClaimedAt, Expr::cust("NULL"))
        .and_where(Expr::col(Events::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

#[derive(sea_orm::DeriveIden)]
enum Events {
    #[sea_orm(iden = "stripe_events")]
    Table,
    Id,
    ClaimedAt,
}

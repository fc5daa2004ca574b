//! The application ledger's reads and writes on an attempt's path, batched across
//! concurrent attempts (the retry worker runs many at once): one statement reads or plans
//! every waiting application, and one transaction settles them, instead of one each.
use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use entity::{application_attempt, offer, offer_application, outcome};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryTrait, TransactionTrait,
};
use serde_json::Value;

use super::{Attempt, Status};
use crate::store::coalescer::Coalescer;

/// Largest batch: far below either database's limit on bound parameters.
const MAX_BATCH: usize = 128;
/// Batches of one kind in the database at once: the next fills while one is served.
const IN_FLIGHT: usize = 2;

/// An attempt's outcome, to be written to the ledger.
pub struct Settlement {
    pub application: offer_application::Model,
    pub attempt: Attempt,
}

/// A result every caller of a batch can hold (a batch's error is each caller's).
type Shared<T> = Result<T, String>;

pub struct Ledger {
    applications: Coalescer<i64, Shared<Option<offer_application::Model>>>,
    offers: Coalescer<i64, Shared<Option<offer::Model>>>,
    plans: Coalescer<(i64, String), Shared<()>>,
    settlements: Coalescer<Settlement, Shared<()>>,
}

impl Ledger {
    /// Starts the batchers on the current runtime.
    pub fn start(db: &DatabaseConnection) -> Ledger {
        let read_db = db.clone();
        let offer_db = db.clone();
        let plan_db = db.clone();
        let settle_db = db.clone();
        Ledger {
            applications: Coalescer::start("application", MAX_BATCH, IN_FLIGHT, move |ids| {
                let db = read_db.clone();
                async move {
                    by_id::<offer_application::Entity>(
                        &db,
                        ids,
                        offer_application::Column::Id,
                        |a| a.id,
                    )
                    .await
                }
            }),
            offers: Coalescer::start("offer", MAX_BATCH, IN_FLIGHT, move |ids| {
                let db = offer_db.clone();
                async move { by_id::<offer::Entity>(&db, ids, offer::Column::Id, |o| o.id).await }
            }),
            plans: Coalescer::start("planned change", MAX_BATCH, IN_FLIGHT, move |plans| {
                let db = plan_db.clone();
                async move {
                    let result = store_plans(&db, &plans).await.map_err(|e| format!("{e:#}"));
                    vec![result; plans.len()]
                }
            }),
            settlements: Coalescer::start("settlement", MAX_BATCH, IN_FLIGHT, move |batch| {
                let db = settle_db.clone();
                async move { settle_in_rounds(&db, batch).await }
            }),
        }
    }

    pub async fn application(&self, id: i64) -> anyhow::Result<Option<offer_application::Model>> {
        shared(self.applications.call(id).await).context("reading the application")
    }

    /// The offer, whichever organization it belongs to (the caller checks).
    pub async fn offer(&self, id: i64) -> anyhow::Result<Option<offer::Model>> {
        shared(self.offers.call(id).await).context("reading the offer")
    }

    /// Stores the Stripe parameters of the application's change before they are sent.
    pub async fn plan(&self, application_id: i64, form_json: String) -> anyhow::Result<()> {
        shared(self.plans.call((application_id, form_json)).await)
            .context("storing the planned change")
    }

    /// Ledger update, attempt history and — for the first success only — the save, in one
    /// transaction (shared with the other attempts of its batch).
    pub async fn settle(&self, settlement: Settlement) -> anyhow::Result<()> {
        shared(self.settlements.call(settlement).await).context("recording the attempt")
    }
}

fn shared<T>(result: Result<Shared<T>, crate::store::coalescer::Stopped>) -> anyhow::Result<T> {
    result?.map_err(anyhow::Error::msg)
}

/// The ids padded to the next power of two by repeating the last one (a no-op in an `IN`
/// list or a `CASE`): a batch's statement then has one of eight texts whatever its size,
/// instead of one of 128, so that each pooled connection prepares each statement a few times
/// and then reuses it (PostgreSQL parsed and planned most of the ledger's statements anew).
fn padded(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

/// Rows of `E` by id, one answer per id asked (in order).
async fn by_id<E: EntityTrait>(
    db: &DatabaseConnection,
    ids: Vec<i64>,
    id_column: E::Column,
    id_of: fn(&E::Model) -> i64,
) -> Vec<Shared<Option<E::Model>>> {
    match E::find()
        .filter(id_column.is_in(padded(ids.iter().copied())))
        .all(db)
        .await
    {
        Ok(rows) => {
            let rows: HashMap<i64, E::Model> = rows.into_iter().map(|m| (id_of(&m), m)).collect();
            ids.iter().map(|id| Ok(rows.get(id).cloned())).collect()
        }
        Err(e) => vec![Err(e.to_string()); ids.len()],
    }
}

/// One statement for the whole batch: `planned_change = CASE id WHEN … END`.
async fn store_plans(db: &DatabaseConnection, plans: &[(i64, String)]) -> anyhow::Result<()> {
    let Some(((first_id, first_form), rest)) = plans.split_first() else {
        return Ok(());
    };
    let id = offer_application::Column::Id;
    // Padded like the ids (a repeated branch is never reached).
    let padding = plans.len().next_power_of_two() - plans.len();
    let last = plans.last().expect("one plan at least");
    let case = rest
        .iter()
        .chain(std::iter::repeat_n(last, padding))
        .fold(
            Expr::case(id.eq(*first_id), first_form.clone()),
            |case, (other, form)| case.case(id.eq(*other), form.clone()),
        )
        .finally(Expr::col(offer_application::Column::PlannedChange));
    let ids = plans.iter().map(|(application_id, _)| *application_id);
    offer_application::Entity::update_many()
        .col_expr(offer_application::Column::PlannedChange, case.into())
        .filter(offer_application::Column::Id.is_in(padded(ids)))
        .exec(db)
        .await?;
    Ok(())
}

/// An application twice in one batch (a lost lease let two workers run it) is settled in a
/// later round, as if the two had come one after the other.
async fn settle_in_rounds(db: &DatabaseConnection, batch: Vec<Settlement>) -> Vec<Shared<()>> {
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (index, settlement) in batch.iter().enumerate() {
        let round = seen.entry(settlement.application.id).or_default();
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(index);
        *round += 1;
    }
    let mut results = vec![Ok(()); batch.len()];
    for round in rounds {
        let settlements: Vec<&Settlement> = round.iter().map(|&i| &batch[i]).collect();
        if let Err(e) = settle(db, &settlements).await {
            let error = format!("{e:#}");
            for &i in &round {
                results[i] = Err(error.clone());
            }
        }
    }
    results
}

/// What an attempt writes on its application.
struct LedgerChange<'a> {
    status: Status,
    outcome: &'static str,
    error: Option<&'a str>,
    stripe_error: Option<String>,
    /// The idempotency key of the next attempts, when this one's can only replay a failure.
    next_key: Option<&'a str>,
}

impl Attempt {
    fn ledger_change(&self) -> LedgerChange<'_> {
        match self {
            Attempt::Applied => LedgerChange {
                status: Status::Applied,
                outcome: "applied",
                error: None,
                stripe_error: None,
                next_key: None,
            },
            Attempt::Transient { error } => LedgerChange {
                status: Status::Retrying,
                outcome: "transient",
                error: Some(error),
                stripe_error: None,
                next_key: None,
            },
            Attempt::Replayed { error, next_key } => LedgerChange {
                status: Status::Retrying,
                outcome: "replayed_failure",
                error: Some(error),
                stripe_error: None,
                next_key: Some(next_key),
            },
            Attempt::Permanent {
                error,
                stripe_error,
            } => LedgerChange {
                status: Status::Failed,
                outcome: "permanent",
                error: Some(error),
                stripe_error: stripe_error.as_ref().map(Value::to_string),
                next_key: None,
            },
        }
    }
}

async fn settle(db: &DatabaseConnection, round: &[&Settlement]) -> anyhow::Result<()> {
    let now = Utc::now();
    let txn = db.begin().await.context("starting a transaction")?;
    // One update per distinct outcome: all its applications get the same values. Only an
    // unfinished application changes — a racing attempt that already settled it wins, and
    // the save below is recorded once. The new attempt counts come back for the history.
    let mut groups: Vec<(&Attempt, Vec<i64>)> = Vec::new();
    for s in round {
        match groups
            .iter_mut()
            .find(|(attempt, _)| **attempt == s.attempt)
        {
            Some((_, ids)) => ids.push(s.application.id),
            None => groups.push((&s.attempt, vec![s.application.id])),
        }
    }
    let mut settled: HashMap<i64, i32> = HashMap::new();
    for (attempt, ids) in groups {
        let change = attempt.ledger_change();
        let mut update = offer_application::Entity::update_many()
            .col_expr(
                offer_application::Column::Status,
                Expr::value(change.status.as_str()),
            )
            .col_expr(
                offer_application::Column::Attempts,
                Expr::col(offer_application::Column::Attempts).add(1),
            )
            .col_expr(
                offer_application::Column::LastError,
                Expr::value(change.error.map(str::to_owned)),
            )
            .col_expr(offer_application::Column::UpdatedAt, Expr::value(now));
        if change.stripe_error.is_some() {
            update = update.col_expr(
                offer_application::Column::LastStripeError,
                Expr::value(change.stripe_error),
            );
        }
        if let Some(next_key) = change.next_key {
            // Only applications with this very attempt are in the group: one key each.
            update = update.col_expr(
                offer_application::Column::IdempotencyKey,
                Expr::value(next_key),
            );
        }
        if change.status == Status::Applied {
            update = update
                .col_expr(offer_application::Column::AppliedAt, Expr::value(Some(now)))
                .col_expr(
                    offer_application::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        let mut statement = update
            .filter(offer_application::Column::Id.is_in(padded(ids)))
            .filter(offer_application::Column::Status.is_not_in(["applied", "failed"]))
            .into_query();
        statement.returning(Query::returning().columns([
            offer_application::Column::Id,
            offer_application::Column::Attempts,
        ]));
        for row in txn
            .query_all(&statement)
            .await
            .context("updating the applications")?
        {
            settled.insert(row.try_get("", "id")?, row.try_get("", "attempts")?);
        }
    }
    // Inserts without RETURNING: nothing reads the rows back.
    application_attempt::Entity::insert_many(round.iter().map(|s| {
        let change = s.attempt.ledger_change();
        application_attempt::ActiveModel {
            application_id: Set(s.application.id),
            attempt: Set(settled
                .get(&s.application.id)
                .copied()
                .unwrap_or(s.application.attempts + 1)),
            outcome: Set(change.outcome.to_owned()),
            error: Set(change.error.map(str::to_owned)),
            created_at: Set(now),
            ..Default::default()
        }
    }))
    .exec_without_returning(&txn)
    .await
    .context("recording the attempts")?;
    let saves: Vec<outcome::ActiveModel> = round
        .iter()
        .filter(|s| s.attempt == Attempt::Applied && settled.contains_key(&s.application.id))
        .map(|s| {
            let a = &s.application;
            outcome::ActiveModel {
                organization_id: Set(a.organization_id),
                offer_id: Set(a.offer_id),
                end_user_id: Set(a.end_user_id),
                status: Set("saved".to_owned()),
                mrr_e4: Set(a.mrr_e4),
                source: Set("apply_offer".to_owned()),
                experiment_id: Set(a.experiment_id),
                experiment_arm: Set(a.experiment_arm.clone()),
                created_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    if !saves.is_empty() {
        outcome::Entity::insert_many(saves)
            .exec_without_returning(&txn)
            .await
            .context("recording the saves")?;
    }
    txn.commit().await.context("committing the attempts")
}

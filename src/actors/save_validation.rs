//! Save validation for the analytics summary: the period's saves of known end users, each
//! once per end user and offer (dated by its first row, at the largest MRR reported, as the
//! summary counts them), weighed against Stripe's cancellations (`domain::save_validation`).
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{organization_setting, outcome};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Failure;
use crate::domain::eligibility::DEFAULT_SAVE_VALIDATION_DAYS;
use crate::domain::save_validation::{standing, Standing};
use crate::domain::Mrr;
use crate::store::stripe_webhooks;

/// Saves that lasted, were lost, or are still in their window.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SaveValidation {
    /// The organization's `save_validation_days`.
    pub window_days: u32,
    pub held: u64,
    pub lost: u64,
    pub pending: u64,
    /// Sum of the held saves' MRR, in currency units.
    #[schema(value_type = f64)]
    pub retained_mrr: Value,
}

/// The organization's window (its setting, or the default).
pub async fn window_days(db: &DatabaseConnection, organization_id: i64) -> Result<u32, Failure> {
    let row = organization_setting::Entity::find_by_id(organization_id)
        .one(db)
        .await?;
    Ok(row
        .and_then(|r| r.save_validation_days)
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(DEFAULT_SAVE_VALIDATION_DAYS))
}

/// When each end user's subscription was deleted or set to cancel.
pub async fn cancellations_by_end_user(
    db: &DatabaseConnection,
    organization_id: i64,
) -> Result<HashMap<i64, Vec<DateTime<Utc>>>, Failure> {
    let mut by_user: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
    for (user, at) in stripe_webhooks::cancellations(db, organization_id).await? {
        by_user.entry(user).or_default().push(at);
    }
    Ok(by_user)
}

pub async fn validate_saves(
    db: &DatabaseConnection,
    organization_id: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SaveValidation, Failure> {
    let window_days = window_days(db, organization_id).await?;
    let rows = outcome::Entity::find()
        .select_only()
        .column(outcome::Column::EndUserId)
        .column(outcome::Column::OfferId)
        .column(outcome::Column::CreatedAt)
        .column(outcome::Column::MrrE4)
        .filter(outcome::Column::OrganizationId.eq(organization_id))
        .filter(outcome::Column::Status.eq("saved"))
        .filter(outcome::Column::EndUserId.is_not_null())
        .filter(outcome::Column::CreatedAt.gte(from))
        .filter(outcome::Column::CreatedAt.lt(until))
        .into_tuple::<(Option<i64>, i64, DateTime<Utc>, Option<i64>)>()
        .all(db)
        .await?;
    let mut saves: HashMap<(i64, i64), (DateTime<Utc>, i64)> = HashMap::new();
    for (user, offer, at, mrr) in rows {
        let Some(user) = user else { continue };
        let save = saves.entry((user, offer)).or_insert((at, 0));
        save.0 = save.0.min(at);
        save.1 = save.1.max(mrr.unwrap_or(0));
    }
    let cancellations = cancellations_by_end_user(db, organization_id).await?;
    let mut figures = SaveValidation {
        window_days,
        held: 0,
        lost: 0,
        pending: 0,
        retained_mrr: Value::Null,
    };
    let mut retained_e4 = 0;
    for ((user, _), (saved_at, mrr)) in saves {
        let cancelled = cancellations.get(&user).map_or(&[][..], Vec::as_slice);
        match standing(saved_at, cancelled, window_days, now) {
            Standing::Held => {
                figures.held += 1;
                retained_e4 += mrr;
            }
            Standing::Lost => figures.lost += 1,
            Standing::Pending => figures.pending += 1,
        }
    }
    figures.retained_mrr = Mrr::from_storage(retained_e4).to_json();
    Ok(figures)
}

/// Held saves per experiment arm: each exposed end user's first save in the arm, held as
/// the summary's are (anonymous saves cannot be validated and hold nothing).
pub async fn held_saves_by_arm(
    db: &DatabaseConnection,
    organization_id: i64,
    experiment_id: i64,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<HashMap<String, u64>, Failure> {
    let rows = outcome::Entity::find()
        .select_only()
        .column(outcome::Column::ExperimentArm)
        .column(outcome::Column::EndUserId)
        .column(outcome::Column::CreatedAt)
        .filter(outcome::Column::OrganizationId.eq(organization_id))
        .filter(outcome::Column::ExperimentId.eq(experiment_id))
        .filter(outcome::Column::Status.eq("saved"))
        .filter(outcome::Column::EndUserId.is_not_null())
        .into_tuple::<(Option<String>, Option<i64>, DateTime<Utc>)>()
        .all(db)
        .await?;
    let mut first: HashMap<(String, i64), DateTime<Utc>> = HashMap::new();
    for (arm, user, at) in rows {
        let (Some(arm), Some(user)) = (arm, user) else {
            continue;
        };
        let saved_at = first.entry((arm, user)).or_insert(at);
        *saved_at = (*saved_at).min(at);
    }
    let cancellations = cancellations_by_end_user(db, organization_id).await?;
    let mut held: HashMap<String, u64> = HashMap::new();
    for ((arm, user), saved_at) in first {
        let cancelled = cancellations.get(&user).map_or(&[][..], Vec::as_slice);
        let count = held.entry(arm).or_insert(0);
        if standing(saved_at, cancelled, window_days, now) == Standing::Held {
            *count += 1;
        }
    }
    Ok(held)
}

/// Adds `held_saves` to each arm of an experiment's results.
pub fn add_held_saves(results: &mut Value, held: &HashMap<String, u64>) {
    if let Some(arms) = results.get_mut("arms").and_then(Value::as_array_mut) {
        for arm in arms {
            let name = arm.get("name").and_then(Value::as_str).unwrap_or_default();
            let count = held.get(name).copied().unwrap_or(0);
            arm["held_saves"] = count.into();
        }
    }
}

//! Save validation for the analytics summary: the period's saves of known end users, each
//! once per end user and offer (dated by its first row, at the largest MRR reported, as the
//! summary counts them), weighed against Stripe's cancellations (`domain::save_validation`).
//! The saves are counted from the rollups; only the saves of end users with a cancellation
//! are read one by one.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::organization_setting;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Failure;
use crate::domain::eligibility::DEFAULT_SAVE_VALIDATION_DAYS;
use crate::domain::save_validation::{standing, Standing};
use crate::domain::Mrr;
use crate::store::{analytics, stripe_webhooks};

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

/// The instant up to which (inclusive) a save has had its whole window: `now` − the window,
/// to the databases' precision (microseconds).
fn window_passed(now: DateTime<Utc>, window_days: u32) -> DateTime<Utc> {
    let at = now - Duration::days(window_days.into());
    at - Duration::nanoseconds(i64::from(at.timestamp_subsec_nanos() % 1_000))
}

/// Known end users' saves in `[from, until)` (or `[from, until]`), from the rollups.
async fn known_saves(
    db: &DatabaseConnection,
    organization_id: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    inclusive: bool,
) -> Result<(u64, i64), Failure> {
    let (mut count, mut mrr) = (0, 0);
    for piece in analytics::pieces(from, until, inclusive) {
        let (n, m) = analytics::known_saves(db, organization_id, &piece).await?;
        count += u64::try_from(n).unwrap_or(0);
        mrr += m;
    }
    Ok((count, mrr))
}

/// The period's saves of known end users (each once per end user and offer, dated by its
/// first record, at the largest MRR): those whose window has passed and those still in it
/// are counted from the rollups, then the saves of end users with a cancellation are read
/// one by one (their number grows with cancellations, not with traffic) and the lost ones
/// moved out.
pub async fn validate_saves(
    db: &DatabaseConnection,
    organization_id: i64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SaveValidation, Failure> {
    let window_days = window_days(db, organization_id).await?;
    let passed = window_passed(now, window_days);
    // Saves at or before `passed` held unless lost; later ones are pending unless lost.
    let (mut held, mut retained_e4) = if from <= passed {
        // `passed` itself belongs to the period when the period ends after it.
        let inclusive = until > passed;
        let until_held = if inclusive { passed } else { until };
        known_saves(db, organization_id, from, until_held, inclusive).await?
    } else {
        (0, 0)
    };
    let (mut pending, _) = if until > passed {
        let (n, m) = known_saves(db, organization_id, from.max(passed), until, false).await?;
        if from <= passed && until > passed {
            // `passed` itself was counted as held: take it out of the pending side.
            let (n0, m0) = known_saves(db, organization_id, passed, passed, true).await?;
            (n - n0, m - m0)
        } else {
            (n, m)
        }
    } else {
        (0, 0)
    };
    let cancellations = cancellations_by_end_user(db, organization_id).await?;
    let users: Vec<i64> = cancellations.keys().copied().collect();
    let mut lost = 0;
    for (user, saved_at, mrr) in
        analytics::first_saves_of(db, organization_id, &users, from, until).await?
    {
        let cancelled = cancellations.get(&user).map_or(&[][..], Vec::as_slice);
        if standing(saved_at, cancelled, window_days, now) != Standing::Lost {
            continue;
        }
        lost += 1;
        if saved_at <= passed {
            held = held.saturating_sub(1);
            retained_e4 -= mrr;
        } else {
            pending = pending.saturating_sub(1);
        }
    }
    Ok(SaveValidation {
        window_days,
        held,
        lost,
        pending,
        retained_mrr: Mrr::from_storage(retained_e4).to_json(),
    })
}

/// Held saves per experiment arm: each exposed end user's first save in the arm, held as
/// the summary's are (anonymous saves cannot be validated and hold nothing). Counted from
/// the experiment's rollups, less the saves that end users' cancellations lost.
pub async fn held_saves_by_arm(
    db: &DatabaseConnection,
    organization_id: i64,
    experiment_id: i64,
    window_days: u32,
    now: DateTime<Utc>,
) -> Result<HashMap<String, u64>, Failure> {
    let passed = window_passed(now, window_days);
    let mut held: HashMap<String, u64> = HashMap::new();
    for (arm, n) in analytics::experiment_known_saves_until(db, experiment_id, passed).await? {
        held.insert(arm, u64::try_from(n).unwrap_or(0));
    }
    let cancellations = cancellations_by_end_user(db, organization_id).await?;
    let users: Vec<i64> = cancellations.keys().copied().collect();
    for (arm, user, saved_at) in
        analytics::experiment_first_saves_of(db, experiment_id, &users).await?
    {
        let cancelled = cancellations.get(&user).map_or(&[][..], Vec::as_slice);
        if saved_at <= passed && standing(saved_at, cancelled, window_days, now) == Standing::Lost {
            if let Some(count) = held.get_mut(&arm) {
                *count = count.saturating_sub(1);
            }
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

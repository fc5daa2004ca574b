//! What a batch of impressions adds to the rollups, grouped here rather than by the database
//! (migration `m20261207_000004_impression_rollups_grouped_by_the_writer`): grouping in SQL
//! (reading each impression's JSON again, sorting the batch twice) cost SQLite's single
//! writer, and PostgreSQL, about as much as the impressions themselves. The rules are those
//! the triggers had: per organization, UTC day, offer (0 for the intercept itself), target
//! and trigger the number of impressions; per end user the batch's latest intercept (by
//! stored time, then by place in the batch); per experiment arm the number of impressions.
//! Each kind is a JSON array of rows, sorted by key (PostgreSQL's concurrent batches then
//! lock rollup rows in one order).

use std::collections::BTreeMap;

use entity::impression;
use serde_json::{json, Value};

use chrono::{DateTime, Utc};

/// The rows the view's trigger upserts, each a JSON array of rows.
pub(super) struct ImpressionRollups {
    pub days: Value,
    pub latest_intercepts: Value,
    pub arms: Value,
}

impl ImpressionRollups {
    /// `stamp`: a time as the database stores it, as text that sorts as the database compares
    /// the stored times; its first ten characters are the UTC day. Every field read is set by
    /// `write_batch`.
    pub(super) fn of(
        impressions: &[impression::ActiveModel],
        stamp: impl Fn(DateTime<Utc>) -> String,
    ) -> Self {
        // Each row's stored time, made once; the keys below borrow it.
        let stamps: Vec<String> = impressions
            .iter()
            .map(|row| stamp(*row.created_at.as_ref()))
            .collect();
        // (organization, day, offer, target, trigger) → impressions
        let mut days: BTreeMap<(i64, &str, i64, &str, &str), i64> = BTreeMap::new();
        // (organization, end user) → (stored time, target, trigger)
        let mut latest: BTreeMap<(i64, i64), (&str, &str, Option<&str>)> = BTreeMap::new();
        let mut arms: BTreeMap<(i64, &str), i64> = BTreeMap::new();
        for (row, at) in impressions.iter().zip(&stamps) {
            let organization_id = *row.organization_id.as_ref();
            let at = at.as_str();
            let day = &at[..10];
            let target = row.target_id.as_ref().as_str();
            let trigger = row.trigger.as_ref().as_deref();
            let offers: Vec<i64> = serde_json::from_str(row.offer_ids.as_ref()).unwrap_or_default();
            for offer in std::iter::once(0).chain(offers) {
                let key = (organization_id, day, offer, target, trigger.unwrap_or(""));
                *days.entry(key).or_default() += 1;
            }
            if let (Some(experiment), Some(arm)) = (
                *row.experiment_id.as_ref(),
                row.experiment_arm.as_ref().as_deref(),
            ) {
                *arms.entry((experiment, arm)).or_default() += 1;
            }
            if let Some(end_user) = *row.end_user_id.as_ref() {
                // A later row of the batch wins a tie, as a later batch does.
                match latest.get(&(organization_id, end_user)) {
                    Some((stored, _, _)) if *stored > at => {}
                    _ => {
                        latest.insert((organization_id, end_user), (at, target, trigger));
                    }
                }
            }
        }
        ImpressionRollups {
            days: days
                .into_iter()
                .map(|((org, day, offer, target, trig), n)| {
                    json!([org, day, offer, target, trig, n])
                })
                .collect(),
            latest_intercepts: latest
                .into_iter()
                .map(|((org, user), (at, target, trig))| json!([org, user, at, target, trig]))
                .collect(),
            arms: arms
                .into_iter()
                .map(|((experiment, arm), n)| json!([experiment, arm, n]))
                .collect(),
        }
    }
}

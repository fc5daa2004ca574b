//! The subscription-update parameters each kind of change sends, exactly as Stripe
//! documents them.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// `pause_collection[behavior]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseBehavior {
    KeepAsDraft,
    MarkUncollectible,
    Void,
}

impl PauseBehavior {
    pub fn as_str(&self) -> &'static str {
        match self {
            PauseBehavior::KeepAsDraft => "keep_as_draft",
            PauseBehavior::MarkUncollectible => "mark_uncollectible",
            PauseBehavior::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "keep_as_draft" => PauseBehavior::KeepAsDraft,
            "mark_uncollectible" => PauseBehavior::MarkUncollectible,
            "void" => PauseBehavior::Void,
            _ => return None,
        })
    }
}

/// Attach a coupon. Since 2025-03-31.basil this is `discounts[0][coupon]`
/// (the singular `coupon` parameter is gone); it replaces the subscription's
/// discounts, so a retention discount does not stack on an older one.
pub fn discount_form(coupon_id: &str) -> Vec<(String, String)> {
    vec![("discounts[0][coupon]".to_string(), coupon_id.to_string())]
}

pub fn pause_form(behavior: PauseBehavior, resumes_at: i64) -> Vec<(String, String)> {
    vec![
        (
            "pause_collection[behavior]".to_string(),
            behavior.as_str().to_string(),
        ),
        (
            "pause_collection[resumes_at]".to_string(),
            resumes_at.to_string(),
        ),
    ]
}

/// `now` + `months` calendar months (Jan 31 + 1 month = Feb 28/29), unix
/// seconds. `None` on overflow.
pub fn pause_resumes_at(now: DateTime<Utc>, months: u32) -> Option<i64> {
    now.checked_add_months(Months::new(months))
        .map(|t| t.timestamp())
}

/// The later of `now` and the current trial end, plus `days`: extending a
/// running trial adds to it; an expired or absent trial starts from now.
pub fn trial_extension_target(
    current_trial_end: Option<i64>,
    now: DateTime<Utc>,
    days: u32,
) -> i64 {
    let base = current_trial_end.unwrap_or(i64::MIN).max(now.timestamp());
    base.saturating_add(i64::from(days) * 86_400)
}

/// `proration_behavior=none`: extra free days should not produce a prorated
/// invoice.
pub fn trial_extension_form(trial_end: i64) -> Vec<(String, String)> {
    vec![
        ("trial_end".to_string(), trial_end.to_string()),
        ("proration_behavior".to_string(), "none".to_string()),
    ]
}

pub fn downgrade_form(item_id: &str, price_id: &str) -> Vec<(String, String)> {
    vec![
        ("items[0][id]".to_string(), item_id.to_string()),
        ("items[0][price]".to_string(), price_id.to_string()),
    ]
}

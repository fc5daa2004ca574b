//! Bodies of the organization's settings: eligibility rules and experiment defaults.

use utoipa::ToSchema;

/// The organization's eligibility rules and experiment defaults.
#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationSettings {
    pub offer_cooldown_days: Option<i64>,
    pub type_cooldown_days: Option<i64>,
    pub max_redemptions_per_user: Option<i64>,
    pub require_subscription_for_changes: bool,
    pub experiment_confidence: f64,
    pub experiment_min_sample_size: i64,
}

/// Only the fields named change; `null` clears an optional rule.
#[derive(serde::Serialize, ToSchema)]
pub struct SettingsPatch {
    #[schema(minimum = 1, required = false)]
    pub offer_cooldown_days: Option<i64>,
    #[schema(minimum = 1, required = false)]
    pub type_cooldown_days: Option<i64>,
    #[schema(minimum = 1, maximum = 1_000_000, required = false)]
    pub max_redemptions_per_user: Option<i64>,
    #[schema(required = false)]
    pub require_subscription_for_changes: Option<bool>,
    #[schema(minimum = 0.5, maximum = 0.999, required = false)]
    pub experiment_confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000, required = false)]
    pub experiment_min_sample_size: Option<i64>,
}

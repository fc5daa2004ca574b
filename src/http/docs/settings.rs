//! Bodies of the organization's settings: eligibility rules, experiment defaults and the
//! browser origins allowed to call the cancel flow.

use utoipa::ToSchema;

/// The organization's eligibility rules, experiment defaults and allowed origins.
#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationSettings {
    pub offer_cooldown_days: Option<i64>,
    pub type_cooldown_days: Option<i64>,
    pub max_redemptions_per_user: Option<i64>,
    pub require_subscription_for_changes: bool,
    pub experiment_confidence: f64,
    pub experiment_min_sample_size: i64,
    /// Browser origins allowed to call the cancel flow's routes (CORS), as browsers
    /// send them; empty: none.
    #[schema(example = json!(["https://app.example.com"]))]
    pub allowed_origins: Vec<String>,
    /// Days a save must last (the subscription neither deleted nor set to cancel, as Stripe's
    /// events tell) to count as held.
    pub save_validation_days: i64,
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
    /// Replaces the list; `null` or `[]` allows no origin.
    #[schema(required = false)]
    pub allowed_origins: Option<Vec<String>>,
    /// `null` restores the default (30).
    #[schema(minimum = 1, maximum = 365, required = false)]
    pub save_validation_days: Option<i64>,
}

//! The organization's own settings as clients write them (`PATCH /api/v1/settings` merges
//! over the current settings and validates the result).
use serde_json::{json, Map, Value};

use crate::domain::eligibility::{
    OrgSettings, DEFAULT_CONFIDENCE, DEFAULT_MIN_SAMPLE_SIZE, MAX_COOLDOWN_DAYS,
};
use crate::domain::fields::Input;
use crate::domain::validation::ValidationErrors;

pub fn parse_settings(body: &Map<String, Value>) -> Result<OrgSettings, ValidationErrors> {
    let mut input = Input::new(body);
    let settings = OrgSettings {
        offer_cooldown_days: input.integer_between(
            "offer_cooldown_days",
            false,
            1,
            MAX_COOLDOWN_DAYS.into(),
        ),
        type_cooldown_days: input.integer_between(
            "type_cooldown_days",
            false,
            1,
            MAX_COOLDOWN_DAYS.into(),
        ),
        max_redemptions_per_user: input.integer_between(
            "max_redemptions_per_user",
            false,
            1,
            1_000_000,
        ),
        require_subscription_for_changes: input
            .boolean("require_subscription_for_changes", false)
            .unwrap_or(false),
        experiment_confidence: input
            .number_between("experiment_confidence", false, 0.5, 0.999)
            .unwrap_or(DEFAULT_CONFIDENCE),
        experiment_min_sample_size: input
            .integer_between("experiment_min_sample_size", false, 1, 10_000_000)
            .unwrap_or(DEFAULT_MIN_SAMPLE_SIZE),
    };
    if input.errors.is_empty() {
        Ok(settings)
    } else {
        Err(input.errors)
    }
}

pub fn settings_json(settings: &OrgSettings) -> Value {
    json!({
        "offer_cooldown_days": settings.offer_cooldown_days,
        "type_cooldown_days": settings.type_cooldown_days,
        "max_redemptions_per_user": settings.max_redemptions_per_user,
        "require_subscription_for_changes": settings.require_subscription_for_changes,
        "experiment_confidence": settings.experiment_confidence,
        "experiment_min_sample_size": settings.experiment_min_sample_size,
    })
}

//! The organization's own settings as clients write them (`PATCH /api/v1/settings` merges
//! over the current settings and validates the result).
use serde_json::{json, Map, Value};

use crate::domain::eligibility::{
    OrgSettings, DEFAULT_CONFIDENCE, DEFAULT_MIN_SAMPLE_SIZE, DEFAULT_SAVE_VALIDATION_DAYS,
    MAX_COOLDOWN_DAYS, MAX_SAVE_VALIDATION_DAYS,
};
use crate::domain::fields::{attribute, Input};
use crate::domain::origin::{normalize_origin, MAX_ALLOWED_ORIGINS, MAX_ORIGIN_LEN};
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
        allowed_origins: parse_origins(&mut input),
        save_validation_days: input
            .integer_between(
                "save_validation_days",
                false,
                1,
                MAX_SAVE_VALIDATION_DAYS.into(),
            )
            .unwrap_or(DEFAULT_SAVE_VALIDATION_DAYS),
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
        "allowed_origins": settings.allowed_origins,
        "save_validation_days": settings.save_validation_days,
    })
}

/// `allowed_origins`: at most 20 exact origins, each kept as browsers send it (scheme and
/// host in lower case, no default port); repeats are kept once. `null` (or absent) is none.
fn parse_origins(input: &mut Input<'_>) -> Vec<String> {
    const FIELD: &str = "allowed_origins";
    let Some(items) = input.array(FIELD, false) else {
        return Vec::new();
    };
    if items.len() > MAX_ALLOWED_ORIGINS {
        input.errors.add(
            FIELD,
            format!(
                "The {} field must not have more than {MAX_ALLOWED_ORIGINS} items.",
                attribute(FIELD)
            ),
        );
        return Vec::new();
    }
    let mut origins: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("{FIELD}.{index}");
        let name = attribute(&field);
        let problem = match item.as_str() {
            None => format!("The {name} field must be a string."),
            Some(raw) if raw.chars().count() > MAX_ORIGIN_LEN => {
                format!("The {name} field must not be greater than {MAX_ORIGIN_LEN} characters.")
            }
            Some(raw) => match normalize_origin(raw) {
                Ok(origin) => {
                    if !origins.contains(&origin) {
                        origins.push(origin);
                    }
                    continue;
                }
                Err(problem) => format!("The {name} field {}.", problem.rule()),
            },
        };
        input.errors.add(field, problem);
    }
    origins
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(origins: Value) -> Result<OrgSettings, ValidationErrors> {
        let body = json!({ "allowed_origins": origins });
        parse_settings(body.as_object().unwrap())
    }

    #[test]
    fn origins_are_normalized_and_repeats_kept_once() {
        let settings = parse(json!([
            "https://App.Example.com:443",
            "http://localhost:3000",
            "https://app.example.com",
        ]))
        .unwrap();
        assert_eq!(
            settings.allowed_origins,
            ["https://app.example.com", "http://localhost:3000"]
        );
        assert!(settings.allows_origin("http://localhost:3000"));
        assert!(!settings.allows_origin("http://localhost:3001"));
        assert!(parse(Value::Null).unwrap().allowed_origins.is_empty());
        assert!(parse(json!([])).unwrap().allowed_origins.is_empty());
    }

    #[test]
    fn origins_break_rules_with_laravel_messages() {
        let errors = parse(json!(["https://a.example/", 7, "http://a.example"])).unwrap_err();
        let messages: Vec<(String, Vec<String>)> = errors
            .entries()
            .map(|(f, m)| (f.to_owned(), m.to_vec()))
            .collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0].0, "allowed_origins.0");
        assert_eq!(
            messages[1].1,
            ["The allowed origins.1 field must be a string."]
        );
        assert!(messages[2].1[0].starts_with("The allowed origins.2 field must use https://"));
        let many: Vec<String> = (0..21).map(|n| format!("https://a{n}.example")).collect();
        assert_eq!(
            parse(json!(many)).unwrap_err().summary(),
            "The allowed origins field must not have more than 20 items."
        );
        assert_eq!(
            parse(json!("https://a.example")).unwrap_err().summary(),
            "The allowed origins field must be an array."
        );
    }
}

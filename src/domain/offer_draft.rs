//! The offer resource as clients write it: validation of a whole offer body. PATCH merges
//! the patch over the stored offer and validates the result with the same rules.
use serde_json::{Map, Value};

use crate::domain::eligibility::{OfferRules, MAX_COOLDOWN_DAYS};
use crate::domain::fields::Input;
use crate::domain::offer::Placement;
use crate::domain::validation::ValidationErrors;
use crate::domain::{Mrr, OfferConfig, OfferType, Trigger};

/// A valid offer, ready to store.
#[derive(Debug, Clone)]
pub struct OfferDraft {
    pub kind: OfferType,
    pub value: f64,
    pub label: String,
    pub config: OfferConfig,
    pub placement: Placement,
    pub priority: i32,
    pub active: bool,
    pub rules: OfferRules,
}

pub fn parse_offer(body: &Map<String, Value>) -> Result<OfferDraft, ValidationErrors> {
    let mut input = Input::new(body);
    let kind = input.choice("type", true, OfferType::parse);
    let value = input.non_negative_number("value", true);
    let label = input.string("label", true, 255);
    let config = if input.has_key("config") && input.present("config").is_none() {
        Some(Map::new())
    } else {
        input.object("config", false).or(Some(Map::new()))
    };
    let target_id = input.string("target_id", false, 255);
    let triggers = parse_triggers(&mut input);
    let min_mrr = input.mrr("min_mrr", false);
    let max_mrr = input.mrr("max_mrr", false);
    if let (Some(min), Some(max)) = (min_mrr, max_mrr) {
        if max < min {
            input.errors.add(
                "max_mrr",
                "The max mrr field must be greater than or equal to min mrr.",
            );
        }
    }
    let priority = input.integer("priority", false).unwrap_or(0);
    if !(-1_000_000..=1_000_000).contains(&priority) {
        input.errors.add(
            "priority",
            "The priority field must be between -1000000 and 1000000.",
        );
    }
    let active = input.boolean("active", false).unwrap_or(true);
    let rules = OfferRules {
        cooldown_days: input.integer_between("cooldown_days", false, 0, MAX_COOLDOWN_DAYS.into()),
        type_cooldown_days: input.integer_between(
            "type_cooldown_days",
            false,
            0,
            MAX_COOLDOWN_DAYS.into(),
        ),
        max_redemptions: input.integer_between("max_redemptions", false, 1, 1_000_000_000),
        max_redemptions_per_user: input.integer_between(
            "max_redemptions_per_user",
            false,
            0,
            1_000_000,
        ),
        requires_subscription: input.boolean("requires_subscription", false),
    };
    let mut errors = input.errors;
    let config = match (kind, value, config) {
        (Some(kind), Some(value), Some(config)) => match OfferConfig::validate(kind, value, config)
        {
            Ok(config) => Some(config),
            Err(broken) => {
                for (field, message) in broken {
                    errors.add(field, message);
                }
                None
            }
        },
        _ => None,
    };
    match (kind, value, label, config, errors.is_empty()) {
        (Some(kind), Some(value), Some(label), Some(config), true) => Ok(OfferDraft {
            kind,
            value,
            label,
            config,
            placement: Placement {
                target_id,
                triggers,
                min_mrr,
                max_mrr,
            },
            priority: priority as i32,
            active,
            rules,
        }),
        _ => Err(errors),
    }
}

fn parse_triggers(input: &mut Input<'_>) -> Vec<Trigger> {
    let Some(items) = input.array("triggers", false) else {
        return Vec::new();
    };
    let mut triggers = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str().and_then(Trigger::parse) {
            Some(t) if !triggers.contains(&t) => triggers.push(t),
            Some(_) => {}
            None => input.errors.add(
                format!("triggers.{index}"),
                format!("The selected triggers.{index} is invalid."),
            ),
        }
    }
    triggers
}

/// The body that would recreate `current`, for merging a PATCH over it.
pub fn as_body(current: &Value) -> Map<String, Value> {
    let mut body = current.as_object().cloned().unwrap_or_default();
    for derived in ["id", "created_at", "updated_at"] {
        body.remove(derived);
    }
    body
}

/// Overlays a PATCH: present keys replace, `null` clears.
pub fn merge_patch(mut body: Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    for (key, value) in patch {
        body.insert(key.clone(), value.clone());
    }
    body
}

pub fn mrr_json(mrr: Option<Mrr>) -> Value {
    mrr.map_or(Value::Null, Mrr::to_json)
}

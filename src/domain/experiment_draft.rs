//! The experiment resource as clients write it. PATCH merges over the stored experiment and
//! validates the result with the same rules (plus what may change after a draft).
use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::domain::eligibility::OrgSettings;
use crate::domain::experiment::{Arm, ExperimentStatus};
use crate::domain::fields::Input;
use crate::domain::validation::ValidationErrors;
use crate::domain::Trigger;

pub const MAX_ARMS: usize = 10;
pub const MAX_ARM_OFFERS: usize = 20;
pub const MAX_WEIGHT: i64 = 10_000;
pub const MAX_ARM_NAME: usize = 64;

/// A valid experiment, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentDraft {
    pub name: String,
    pub target_id: String,
    pub trigger: Option<Trigger>,
    pub status: ExperimentStatus,
    pub arms: Vec<Arm>,
    pub confidence: f64,
    pub min_sample_size: u32,
}

/// Why an offer cannot be in an arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferProblem {
    /// Not one of the organization's offers.
    Unknown,
    /// Limited to another target, so it could never show in this experiment.
    OtherTarget(String),
}

/// What an arm's offer must be: one of the organization's offers, shown on the
/// experiment's target.
pub trait OfferCheck {
    fn check(&self, offer_id: i64, target_id: Option<&str>) -> Result<(), OfferProblem>;
}

/// For experiments past their draft: the arms are frozen and were checked when written.
pub struct FrozenArms;

impl OfferCheck for FrozenArms {
    fn check(&self, _: i64, _: Option<&str>) -> Result<(), OfferProblem> {
        Ok(())
    }
}

pub fn parse_experiment(
    body: &Map<String, Value>,
    offers: &dyn OfferCheck,
    defaults: &OrgSettings,
) -> Result<ExperimentDraft, ValidationErrors> {
    let mut input = Input::new(body);
    let name = input.string("name", true, 255);
    let target_id = input.string("target_id", true, 255);
    let trigger = input.choice("trigger", false, Trigger::parse);
    let status = input
        .choice("status", false, ExperimentStatus::parse)
        .unwrap_or(ExperimentStatus::Draft);
    let confidence = input
        .number_between("confidence", false, 0.5, 0.999)
        .unwrap_or(defaults.experiment_confidence);
    let min_sample_size = input
        .integer_between("min_sample_size", false, 1, 10_000_000)
        .unwrap_or(defaults.experiment_min_sample_size);
    let raw_arms = input.array("arms", true);
    let mut errors = input.errors;
    let arms = raw_arms.and_then(|raw| parse_arms(&raw, target_id.as_deref(), offers, &mut errors));
    match (name, target_id, arms, errors.is_empty()) {
        (Some(name), Some(target_id), Some(arms), true) => Ok(ExperimentDraft {
            name,
            target_id,
            trigger,
            status,
            arms,
            confidence,
            min_sample_size,
        }),
        _ => Err(errors),
    }
}

fn parse_arms(
    raw: &[Value],
    target_id: Option<&str>,
    offers: &dyn OfferCheck,
    errors: &mut ValidationErrors,
) -> Option<Vec<Arm>> {
    if raw.len() < 2 {
        errors.add("arms", "The arms field must have at least 2 items.");
        return None;
    }
    if raw.len() > MAX_ARMS {
        errors.add(
            "arms",
            format!("The arms field must not have more than {MAX_ARMS} items."),
        );
        return None;
    }
    let before = errors.clone();
    let mut arms = Vec::new();
    let mut names = HashSet::new();
    let mut seen_offers = HashSet::new();
    for (index, item) in raw.iter().enumerate() {
        let field = |name: &str| format!("arms.{index}.{name}");
        let Some(arm) = item.as_object() else {
            errors.add(
                format!("arms.{index}"),
                format!("The arms.{index} field must be an object."),
            );
            continue;
        };
        let mut input = Input::new(arm);
        let name = input.string("name", true, MAX_ARM_NAME);
        let weight = input.integer("weight", false);
        let control = input.boolean("control", false).unwrap_or(false);
        let offer_ids = input.array("offer_ids", true);
        // Messages name the nested field, Laravel style ("The arms.0.name field ...").
        for (key, messages) in input.errors.entries() {
            for message in messages {
                let nested = field(key);
                errors.add(
                    nested.clone(),
                    message.replacen(
                        &format!("The {}", key.replace('_', " ")),
                        &format!("The {nested}"),
                        1,
                    ),
                );
            }
        }
        if let Some(name) = &name {
            if !names.insert(name.clone()) {
                errors.add(
                    field("name"),
                    format!("The {} field has a duplicate value.", field("name")),
                );
            }
        }
        let weight = match weight {
            // Absent, null or blank: the default weight.
            None if !errors.has(&field("weight")) => Some(1),
            Some(w) if (1..=MAX_WEIGHT).contains(&w) => Some(w as u32),
            Some(_) => {
                errors.add(
                    field("weight"),
                    format!(
                        "The {} field must be between 1 and {MAX_WEIGHT}.",
                        field("weight")
                    ),
                );
                None
            }
            None => None,
        };
        let mut ids = Vec::new();
        if let Some(raw_ids) = offer_ids {
            if raw_ids.is_empty() {
                errors.add(
                    field("offer_ids"),
                    format!(
                        "The {} field must have at least 1 item.",
                        field("offer_ids")
                    ),
                );
            } else if raw_ids.len() > MAX_ARM_OFFERS {
                errors.add(
                    field("offer_ids"),
                    format!(
                        "The {} field must not have more than {MAX_ARM_OFFERS} items.",
                        field("offer_ids")
                    ),
                );
            }
            for (position, raw_id) in raw_ids.iter().enumerate() {
                let key = format!("arms.{index}.offer_ids.{position}");
                match raw_id.as_i64() {
                    Some(id) => match offers.check(id, target_id) {
                        Ok(()) if seen_offers.insert(id) => ids.push(id),
                        Ok(()) => errors.add(
                            key.clone(),
                            format!("The {key} field has a duplicate value: an offer can be in one arm only."),
                        ),
                        Err(OfferProblem::Unknown) => {
                            errors.add(key.clone(), format!("The selected {key} is invalid."))
                        }
                        Err(OfferProblem::OtherTarget(target)) => errors.add(
                            key.clone(),
                            format!("The {key} offer is limited to target {target}, so it can never show in this experiment."),
                        ),
                    },
                    None => errors.add(key.clone(), format!("The {key} field must be an integer.")),
                }
            }
        }
        if let (Some(name), Some(weight)) = (name, weight) {
            arms.push(Arm {
                name,
                offer_ids: ids,
                weight,
                control,
            });
        }
    }
    let controls = arms.iter().filter(|a| a.control).count();
    if controls > 1 {
        errors.add("arms", "Only one arm can be the control.");
    }
    if *errors != before || arms.len() != raw.len() {
        return None;
    }
    // Without an explicit control, the first arm is the control.
    if controls == 0 {
        arms[0].control = true;
    }
    Some(arms)
}

/// The body that would recreate `current`, for merging a PATCH over it.
pub fn as_body(current: &Value) -> Map<String, Value> {
    let mut body = current.as_object().cloned().unwrap_or_default();
    for derived in [
        "id",
        "control_arm",
        "promoted_arm",
        "started_at",
        "stopped_at",
        "created_at",
        "updated_at",
    ] {
        body.remove(derived);
    }
    body
}

/// Fields that only a draft may change: changing them later would reshuffle or redefine
/// the arms people were already assigned to.
pub const DRAFT_ONLY: [&str; 3] = ["target_id", "trigger", "arms"];

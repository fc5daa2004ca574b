//! The offer form: an offer's fields as a browser posts them, turned into the body the offers
//! API takes (so that `parse_offer` and the OfferSelector judge it, with the API's messages),
//! and back from the stored offer; the form itself, its terms per type, and the terms in a
//! sentence for the list.
use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::{Map, Value};

use super::forms::{
    checkbox, error_summary, field_errors, select_field, text, text_field, typed, FormState,
};
use super::layout::csrf_field;
use super::session::Member;
use crate::domain::offer::{DISCOUNT_DURATIONS, PAUSE_BEHAVIORS};
use crate::domain::{OfferType, Trigger};

/// Fields posted as they are, blank meaning absent.
const PLAIN: [&str; 11] = [
    "type",
    "value",
    "label",
    "target_id",
    "min_mrr",
    "max_mrr",
    "priority",
    "cooldown_days",
    "type_cooldown_days",
    "max_redemptions",
    "max_redemptions_per_user",
];

/// The fields a form posts besides the plain ones; errors of other fields go above the form.
const OTHERS: [&str; 9] = [
    "config",
    "config.duration",
    "config.duration_in_months",
    "config.behavior",
    "config.price_id",
    "config.url",
    "triggers",
    "requires_subscription",
    "active",
];

/// Whether the form shows `field`'s errors beside a field of its own.
fn placed(field: &str) -> bool {
    PLAIN.contains(&field) || OTHERS.contains(&field) || field.starts_with("triggers.")
}

/// The body of `POST /api/v1/offers` (or, without `active`, of a PATCH that replaces every
/// field the form shows: a blank field is `null`, which clears it).
pub(super) fn body_of(form: &HashMap<String, String>, with_active: bool) -> Map<String, Value> {
    let mut body = Map::new();
    for field in PLAIN {
        body.insert(field.into(), typed(form.get(field)));
    }
    body.insert("config".into(), config_of(form));
    let triggers: Vec<Value> = Trigger::NAMES
        .iter()
        .filter(|t| form.contains_key(&format!("triggers.{t}")))
        .map(|t| Value::from(*t))
        .collect();
    body.insert("triggers".into(), Value::Array(triggers));
    let requires = match form.get("requires_subscription").map_or("", |v| v.trim()) {
        "" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        other => Value::String(other.to_owned()),
    };
    body.insert("requires_subscription".into(), requires);
    if with_active {
        body.insert("active".into(), Value::Bool(form.contains_key("active")));
    }
    body
}

/// The config of the chosen type, from that type's fields (the others are ignored).
fn config_of(form: &HashMap<String, String>) -> Value {
    let field = |name: &str| typed(form.get(name));
    let mut config = Map::new();
    let mut keep = |key: &str, value: Value| {
        if !value.is_null() {
            config.insert(key.to_owned(), value);
        }
    };
    match OfferType::parse(form.get("type").map_or("", |t| t.trim())) {
        Some(OfferType::Discount) => {
            keep("duration", field("config.duration"));
            // A whole number is an integer to the rules; anything else goes as typed, and
            // the rules say what is wrong with it.
            let months = field("config.duration_in_months");
            let months = match months.as_str().map(|m| m.parse::<i64>()) {
                Some(Ok(m)) => Value::from(m),
                _ => months,
            };
            keep("duration_in_months", months);
        }
        Some(OfferType::Pause) => keep("behavior", field("config.behavior")),
        Some(OfferType::Downgrade) => keep("price_id", field("config.price_id")),
        Some(OfferType::Contact) => keep("url", field("config.url")),
        Some(OfferType::Custom) => {
            let raw = form.get("config").map_or("", |c| c.trim());
            if raw.is_empty() {
                return Value::Object(Map::new());
            }
            return serde_json::from_str::<Value>(raw)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::String(raw.to_owned()));
        }
        Some(OfferType::TrialExtension) | None => {}
    }
    Value::Object(config)
}

/// The form's values for a stored offer (the offers API's resource).
pub(super) fn values_of(offer: &Value) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = PLAIN
        .iter()
        .map(|field| ((*field).to_owned(), text(&offer[*field])))
        .collect();
    let config = &offer["config"];
    match offer["type"].as_str() {
        Some("custom") => {
            let shown = if config.as_object().is_some_and(Map::is_empty) {
                String::new()
            } else {
                config.to_string()
            };
            values.insert("config".into(), shown);
        }
        _ => {
            for (key, value) in config.as_object().into_iter().flatten() {
                values.insert(format!("config.{key}"), text(value));
            }
        }
    }
    for trigger in offer["triggers"].as_array().into_iter().flatten() {
        values.insert(format!("triggers.{}", text(trigger)), "on".into());
    }
    values.insert(
        "requires_subscription".into(),
        text(&offer["requires_subscription"]),
    );
    if offer["active"] == Value::Bool(true) {
        values.insert("active".into(), "on".into());
    }
    values
}

/// The offer's terms in a sentence, for the list.
pub(super) fn terms(offer: &Value) -> String {
    let value = text(&offer["value"]);
    let config = &offer["config"];
    match offer["type"].as_str().unwrap_or("") {
        "discount" => match config["duration"].as_str() {
            Some("repeating") => format!(
                "{value} % off for {} months",
                text(&config["duration_in_months"])
            ),
            Some("forever") => format!("{value} % off forever"),
            _ => format!("{value} % off once"),
        },
        "pause" => format!(
            "pause for {value} months (invoices: {})",
            text(&config["behavior"])
        ),
        "trial_extension" => format!("{value} more trial days"),
        "downgrade" => format!("downgrade to {}", text(&config["price_id"])),
        "contact" => format!("contact: {}", text(&config["url"])),
        _ => {
            let shown = config.to_string();
            if shown == "{}" {
                format!("custom, value {value}")
            } else {
                format!("custom, value {value}, config {shown}")
            }
        }
    }
}

fn options<'a>(names: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    names.iter().map(|n| (*n, *n)).collect()
}

/// The form, for a new offer (`action` `/app/offers/new`, with Active) or a stored one.
pub(super) fn offer_form(
    member: &Member,
    state: &FormState,
    action: &str,
    button: &str,
    with_active: bool,
) -> Markup {
    let mut types = vec![("", "Choose a type")];
    types.extend(options(&OfferType::NAMES));
    let mut durations = vec![("", "once (the default)")];
    durations.extend(options(&DISCOUNT_DURATIONS));
    let mut behaviors = vec![("", "void (the default)")];
    behaviors.extend(options(&PAUSE_BEHAVIORS));
    let numeric = Some("decimal");
    let whole = Some("numeric");
    let trigger_errors = state.messages("triggers", true);
    let custom_errors = state.messages("config", false);
    html! {
        (error_summary(state, placed))
        form.stack.offer method="post" action=(action) novalidate {
            (csrf_field(member))
            fieldset {
                legend { "The offer" }
                (select_field(state, "type", "Type", None, &types))
                (text_field(state, "label", "Label", Some("What the end user reads, at most 255 characters."), None))
                (text_field(state, "value", "Value", Some("Discount: percent off (more than 0, at most 100). Pause: whole months. Trial extension: whole days. Others: any number ≥ 0."), numeric))
            }
            fieldset.terms.terms-discount {
                legend { "Discount terms" }
                (select_field(state, "config.duration", "Duration", None, &durations))
                (text_field(state, "config.duration_in_months", "Months", Some("1–120, with a repeating duration only."), whole))
            }
            fieldset.terms.terms-pause {
                legend { "Pause terms" }
                (select_field(state, "config.behavior", "Invoices during the pause", None, &behaviors))
            }
            fieldset.terms.terms-downgrade {
                legend { "Downgrade terms" }
                (text_field(state, "config.price_id", "Stripe price id", Some("Required for a downgrade."), None))
            }
            fieldset.terms.terms-contact {
                legend { "Contact terms" }
                (text_field(state, "config.url", "URL to open", Some("Required for a contact offer: http or https."), None))
            }
            fieldset.terms.terms-custom {
                legend { "Custom config" }
                div.field {
                    label for="config" { span { "Config (a JSON object, handed to your page)" } }
                    textarea #config name="config"
                        aria-invalid=[(!custom_errors.is_empty()).then_some("true")]
                        aria-describedby=[(!custom_errors.is_empty()).then_some("config-error")] { (state.value("config")) }
                    (field_errors("config", &custom_errors))
                }
            }
            fieldset {
                legend { "Where it shows" }
                (text_field(state, "target_id", "Target", Some("Blank: every target."), None))
                fieldset.choices aria-describedby=[(!trigger_errors.is_empty()).then_some("triggers-error")] {
                    legend { "Triggers (none checked: every trigger)" }
                    @for t in Trigger::NAMES {
                        (checkbox(state, &format!("triggers.{t}"), t))
                    }
                    (field_errors("triggers", &trigger_errors))
                }
                (text_field(state, "min_mrr", "Lowest MRR", Some("Blank: no lower bound."), numeric))
                (text_field(state, "max_mrr", "Highest MRR", Some("Blank: no upper bound."), numeric))
                (text_field(state, "priority", "Priority", Some("An integer; higher shows first. Blank: 0."), whole))
            }
            fieldset {
                legend { "Eligibility (blank: the organization's default)" }
                (text_field(state, "cooldown_days", "Offer cooldown, days", Some("0–3650; 0 turns it off."), whole))
                (text_field(state, "type_cooldown_days", "Type cooldown, days", Some("0–3650; 0 turns it off."), whole))
                (text_field(state, "max_redemptions", "Redemptions in all", Some("At least 1. Blank: unlimited."), whole))
                (text_field(state, "max_redemptions_per_user", "Redemptions per end user", Some("0–1000000; 0 is unlimited."), whole))
                (select_field(state, "requires_subscription", "Needs a subscription", None,
                    &[("", "the organization's default"), ("true", "yes"), ("false", "no")]))
            }
            @if with_active {
                (checkbox(state, "active", "Active (unchecked: shown only through an experiment)"))
            }
            button type="submit" { (button) }
        }
    }
}

//! Rewrites the generated description so that it states the rules the service applies that
//! utoipa's attributes cannot.

use serde_json::Value;

use super::constraints::{blank, money, optional_email, text, text_pattern};

fn set(doc: &mut Value, schema: &str, field: &str, value: Value) {
    if let Some(properties) = doc
        .pointer_mut(&format!("/components/schemas/{schema}/properties"))
        .and_then(Value::as_object_mut)
    {
        properties.insert(field.to_owned(), value);
    }
}

fn bound(doc: &mut Value, schema: &str, field: &str, minimum: i64, maximum: i64) {
    if let Some(property) =
        doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
    {
        property["minimum"] = minimum.into();
        property["maximum"] = maximum.into();
    }
}

/// `type` of a PATCH field that cannot be cleared: `null` is refused like a missing required
/// field, so the description does not offer it.
fn not_null(doc: &mut Value, schema: &str, field: &str) {
    let Some(property) =
        doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
    else {
        return;
    };
    if let Some(kinds) = property.get_mut("type").and_then(Value::as_array_mut) {
        kinds.retain(|kind| kind != "null");
        if kinds.len() == 1 {
            property["type"] = kinds[0].clone();
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = property.get_mut(key).and_then(Value::as_array_mut) {
            options.retain(|option| option.get("type").is_none_or(|kind| kind != "null"));
            if options.len() == 1 {
                let only = options[0].clone();
                *property = only;
                break;
            }
        }
    }
}

/// States in the description the rules the service applies that utoipa's attributes cannot:
/// trimming, blank strings counting as absent, no NUL in strings, bounds, money's 4 decimals,
/// "one of `user_email` / `stripe_customer_id`", and blank query parameters counting as absent.
pub fn refine(doc: &mut Value) {
    use crate::domain::eligibility::MAX_COOLDOWN_DAYS;
    // Request bodies: (schema, field, max, required).
    let texts: &[(&str, &str, usize, bool)] = &[
        ("InterceptRequest", "target_id", 255, true),
        ("InterceptRequest", "stripe_customer_id", 255, false),
        ("InterceptRequest", "stripe_subscription_id", 255, false),
        ("ApplyOfferRequest", "stripe_subscription_id", 255, true),
        ("DunningRequest", "stripe_customer_id", 255, false),
        ("SuccessSignalRequest", "event", 64, true),
        ("SuccessSignalRequest", "stripe_customer_id", 255, false),
        ("SentimentRequest", "reason", 2000, true),
        ("SentimentRequest", "target_id", 255, false),
        ("OfferCreate", "label", 255, true),
        ("OfferCreate", "target_id", 255, false),
        ("OfferPatch", "label", 255, true),
        ("OfferPatch", "target_id", 255, false),
        ("CreateOrganizationRequest", "name", 255, true),
        ("TicketPatch", "assignee", 255, false),
        ("TicketPatch", "note", 5000, false),
        ("ExperimentArm", "name", 64, true),
        ("ExperimentCreate", "name", 255, true),
        ("ExperimentCreate", "target_id", 255, true),
        ("ExperimentPatch", "name", 255, true),
        ("ExperimentPatch", "target_id", 255, true),
        ("ExperimentPatch", "promote_arm", 64, false),
    ];
    for (schema, field, max, required) in texts {
        let description = doc
            .pointer(&format!(
                "/components/schemas/{schema}/properties/{field}/description"
            ))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        set(doc, schema, field, text(*max, *required, &description));
    }
    for schema in [
        "InterceptRequest",
        "OutcomeRequest",
        "ApplyOfferRequest",
        "DunningRequest",
        "SuccessSignalRequest",
        "SentimentRequest",
    ] {
        set(doc, schema, "user_email", optional_email());
    }
    for schema in ["InterceptRequest", "OutcomeRequest", "ApplyOfferRequest"] {
        set(doc, schema, "mrr_value", money(true));
    }
    for schema in ["OfferCreate", "OfferPatch"] {
        set(doc, schema, "min_mrr", money(true));
        set(doc, schema, "max_mrr", money(true));
        bound(doc, schema, "priority", -1_000_000, 1_000_000);
    }
    for field in ["offer_cooldown_days", "type_cooldown_days"] {
        bound(doc, "SettingsPatch", field, 1, MAX_COOLDOWN_DAYS.into());
    }
    set(
        doc,
        "SettingsPatch",
        "allowed_origins",
        super::constraints::allowed_origins(),
    );
    bound(
        doc,
        "ExperimentArm",
        "weight",
        1,
        crate::domain::experiment_draft::MAX_WEIGHT,
    );
    // A PATCH cannot clear what the resource requires.
    for (schema, field) in [
        ("OfferPatch", "type"),
        ("OfferPatch", "value"),
        ("OfferPatch", "label"),
        ("ExperimentPatch", "name"),
        ("ExperimentPatch", "target_id"),
    ] {
        not_null(doc, schema, field);
    }
    // Optional fields that are not strings: a blank string counts as absent too.
    let optional: &[(&str, &[&str])] = &[
        ("InterceptRequest", &["trigger", "mrr_value"]),
        ("OutcomeRequest", &["mrr_value"]),
        ("ApplyOfferRequest", &["mrr_value"]),
        (
            "OfferCreate",
            &[
                "config", "triggers", "min_mrr", "max_mrr", "priority", "active",
            ],
        ),
        (
            "OfferPatch",
            &[
                "config", "triggers", "min_mrr", "max_mrr", "priority", "active",
            ],
        ),
        ("TicketPatch", &["status"]),
        ("SessionRequest", &["mrr_value", "expires_in"]),
        ("ExperimentArm", &["weight", "control"]),
        (
            "ExperimentCreate",
            &["trigger", "status", "confidence", "min_sample_size"],
        ),
        (
            "ExperimentPatch",
            &["trigger", "confidence", "min_sample_size", "promote_winner"],
        ),
        (
            "SettingsPatch",
            &[
                "offer_cooldown_days",
                "type_cooldown_days",
                "max_redemptions_per_user",
                "require_subscription_for_changes",
                "experiment_confidence",
                "experiment_min_sample_size",
                "save_validation_days",
            ],
        ),
    ];
    for (schema, fields) in optional {
        for field in *fields {
            if let Some(property) =
                doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            {
                let mut real = property.clone();
                let description = real
                    .as_object_mut()
                    .and_then(|real| real.remove("description"));
                let mut wrapped = serde_json::json!({"anyOf": [real, blank()]});
                let note = "A blank string counts as absent.";
                wrapped["description"] = match description.as_ref().and_then(Value::as_str) {
                    Some(text) => format!("{text} {note}").into(),
                    None => note.into(),
                };
                *property = wrapped;
            }
        }
    }
    // One of `user_email` / `stripe_customer_id`, not blank.
    for schema in ["DunningRequest", "SuccessSignalRequest"] {
        if let Some(object) = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(Value::as_object_mut)
        {
            object.insert(
                "anyOf".into(),
                serde_json::json!([
                    {"required": ["user_email"], "properties": {"user_email": {"type": "string", "format": "email", "maxLength": 254}}},
                    {"required": ["stripe_customer_id"], "properties": {"stripe_customer_id": {"type": "string", "pattern": text_pattern(255, false)}}},
                ]),
            );
        }
    }
    // Query parameters: blank counts as absent.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for parameter in parameters {
                    if parameter.get("in").and_then(Value::as_str) != Some("query") {
                        continue;
                    }
                    let name = parameter["name"].as_str().unwrap_or("").to_owned();
                    let Some(schema) = parameter.get_mut("schema") else {
                        continue;
                    };
                    let mut real = schema.clone();
                    if let Some(kinds) = real.get_mut("type").and_then(Value::as_array_mut) {
                        kinds.retain(|kind| kind != "null");
                    }
                    if name == "from" || name == "to" {
                        real = serde_json::json!({"anyOf": [
                            {"type": "string", "format": "date"},
                            {"type": "string", "format": "date-time"},
                        ]});
                    } else if name == "target_id" {
                        real = serde_json::json!({"type": "string", "pattern": text_pattern(255, false)});
                    }
                    *schema = serde_json::json!({"anyOf": [real, blank()]});
                }
            }
        }
    }
}

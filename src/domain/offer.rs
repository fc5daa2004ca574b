//! Offers: their types, per-type configuration rules, and which context they fit.
use serde_json::{Map, Value};

use super::{Mrr, Trigger};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferType {
    Discount,
    Pause,
    TrialExtension,
    Downgrade,
    Contact,
    Custom,
}

impl OfferType {
    pub const NAMES: [&'static str; 6] = [
        "discount",
        "pause",
        "trial_extension",
        "downgrade",
        "contact",
        "custom",
    ];

    pub fn parse(raw: &str) -> Option<OfferType> {
        Some(match raw {
            "discount" => OfferType::Discount,
            "pause" => OfferType::Pause,
            "trial_extension" => OfferType::TrialExtension,
            "downgrade" => OfferType::Downgrade,
            "contact" => OfferType::Contact,
            "custom" => OfferType::Custom,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OfferType::Discount => "discount",
            OfferType::Pause => "pause",
            OfferType::TrialExtension => "trial_extension",
            OfferType::Downgrade => "downgrade",
            OfferType::Contact => "contact",
            OfferType::Custom => "custom",
        }
    }
}

pub const DISCOUNT_DURATIONS: [&str; 3] = ["once", "repeating", "forever"];
pub const PAUSE_BEHAVIORS: [&str; 3] = ["keep_as_draft", "mark_uncollectible", "void"];

/// A validated offer configuration (the JSON object is kept as given, defaults filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct OfferConfig(pub Map<String, Value>);

/// One broken rule: the field (dotted, Laravel style) and its message.
pub type RuleViolation = (String, String);

impl OfferConfig {
    /// Checks `config` and `value` against the rules of `kind`. Returns the config with
    /// defaults filled in, or every broken rule.
    pub fn validate(
        kind: OfferType,
        value: f64,
        mut config: Map<String, Value>,
    ) -> Result<OfferConfig, Vec<RuleViolation>> {
        let mut broken = Vec::new();
        let whole = |v: f64| v.fract() == 0.0 && v >= 1.0;
        match kind {
            OfferType::Discount => {
                if !(value > 0.0 && value <= 100.0) {
                    broken.push((
                        "value".into(),
                        "The value field must be between 0 and 100 for a discount (percent off)."
                            .into(),
                    ));
                }
                let duration = match config.get("duration") {
                    None | Some(Value::Null) => {
                        config.insert("duration".into(), "once".into());
                        "once".to_owned()
                    }
                    Some(Value::String(d)) if DISCOUNT_DURATIONS.contains(&d.as_str()) => d.clone(),
                    Some(_) => {
                        broken.push((
                            "config.duration".into(),
                            "The selected config.duration is invalid.".into(),
                        ));
                        String::new()
                    }
                };
                let months = config.get("duration_in_months").filter(|v| !v.is_null());
                if duration == "repeating" {
                    match months.and_then(Value::as_i64) {
                        Some(m) if (1..=120).contains(&m) => {}
                        Some(_) => broken.push((
                            "config.duration_in_months".into(),
                            "The config.duration in months field must be between 1 and 120."
                                .into(),
                        )),
                        None if months.is_some() => broken.push((
                            "config.duration_in_months".into(),
                            "The config.duration in months field must be an integer.".into(),
                        )),
                        None => broken.push((
                            "config.duration_in_months".into(),
                            "The config.duration in months field is required when config.duration is repeating."
                                .into(),
                        )),
                    }
                } else if months.is_some() && !duration.is_empty() {
                    broken.push((
                        "config.duration_in_months".into(),
                        "The config.duration in months field is only allowed when config.duration is repeating."
                            .into(),
                    ));
                }
            }
            OfferType::Pause => {
                if !whole(value) {
                    broken.push((
                        "value".into(),
                        "The value field must be a whole number of months (at least 1) for a pause."
                            .into(),
                    ));
                }
                match config.get("behavior") {
                    None | Some(Value::Null) => {
                        config.insert("behavior".into(), "void".into());
                    }
                    Some(Value::String(b)) if PAUSE_BEHAVIORS.contains(&b.as_str()) => {}
                    Some(_) => broken.push((
                        "config.behavior".into(),
                        "The selected config.behavior is invalid.".into(),
                    )),
                }
            }
            OfferType::TrialExtension => {
                if !whole(value) {
                    broken.push((
                        "value".into(),
                        "The value field must be a whole number of days (at least 1) for a trial extension."
                            .into(),
                    ));
                }
            }
            OfferType::Downgrade => match config.get("price_id") {
                Some(Value::String(p)) if !p.trim().is_empty() && p.len() <= 255 => {}
                Some(Value::String(p)) if p.len() > 255 => broken.push((
                    "config.price_id".into(),
                    "The config.price id field must not be greater than 255 characters.".into(),
                )),
                None | Some(Value::Null) => broken.push((
                    "config.price_id".into(),
                    "The config.price id field is required for a downgrade.".into(),
                )),
                Some(Value::String(_)) => broken.push((
                    "config.price_id".into(),
                    "The config.price id field is required for a downgrade.".into(),
                )),
                Some(_) => broken.push((
                    "config.price_id".into(),
                    "The config.price id field must be a string.".into(),
                )),
            },
            OfferType::Contact => match config.get("url") {
                Some(Value::String(url)) if is_web_url(url) => {}
                None | Some(Value::Null) => broken.push((
                    "config.url".into(),
                    "The config.url field is required for a contact offer.".into(),
                )),
                Some(_) => broken.push((
                    "config.url".into(),
                    "The config.url field must be a valid URL.".into(),
                )),
            },
            OfferType::Custom => {}
        }
        if broken.is_empty() {
            Ok(OfferConfig(config))
        } else {
            Err(broken)
        }
    }
}

/// An absolute http(s) URL with a host and no whitespace.
pub fn is_web_url(raw: &str) -> bool {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && raw.len() <= 2048
                && !raw.chars().any(char::is_whitespace)
                && !host.starts_with(':')
        }
        None => false,
    }
}

/// The part of an offer that decides where it is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub target_id: Option<String>,
    pub triggers: Vec<Trigger>,
    pub min_mrr: Option<Mrr>,
    pub max_mrr: Option<Mrr>,
}

impl Placement {
    /// A null target fits every target; an empty trigger list fits every trigger (and a
    /// request without one); an offer restricted to some triggers, or bounded by MRR, needs
    /// the request to say its trigger, or its MRR, and to fall inside.
    pub fn fits(&self, target_id: &str, trigger: Option<Trigger>, mrr: Option<Mrr>) -> bool {
        let target_ok = self.target_id.as_deref().is_none_or(|t| t == target_id);
        let trigger_ok =
            self.triggers.is_empty() || trigger.is_some_and(|t| self.triggers.contains(&t));
        let bounded = self.min_mrr.is_some() || self.max_mrr.is_some();
        let mrr_ok = !bounded
            || mrr.is_some_and(|m| {
                self.min_mrr.is_none_or(|min| m >= min) && self.max_mrr.is_none_or(|max| m <= max)
            });
        target_ok && trigger_ok && mrr_ok
    }
}

/// Integral numbers print as integers (`20`, not `20.0`), as the contract shows.
pub fn number_json(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn discount_defaults_to_once_and_needs_months_when_repeating() {
        let ok = OfferConfig::validate(OfferType::Discount, 20.0, Map::new()).unwrap();
        assert_eq!(ok.0["duration"], "once");
        let broken = OfferConfig::validate(
            OfferType::Discount,
            20.0,
            obj(json!({"duration": "repeating"})),
        )
        .unwrap_err();
        assert_eq!(broken[0].0, "config.duration_in_months");
        assert!(OfferConfig::validate(
            OfferType::Discount,
            20.0,
            obj(json!({"duration": "repeating", "duration_in_months": 3}))
        )
        .is_ok());
        assert!(OfferConfig::validate(OfferType::Discount, 120.0, Map::new()).is_err());
    }

    #[test]
    fn per_type_rules() {
        assert!(OfferConfig::validate(OfferType::Pause, 1.5, Map::new()).is_err());
        assert_eq!(
            OfferConfig::validate(OfferType::Pause, 2.0, Map::new())
                .unwrap()
                .0["behavior"],
            "void"
        );
        assert!(
            OfferConfig::validate(OfferType::Pause, 2.0, obj(json!({"behavior": "nap"}))).is_err()
        );
        assert!(OfferConfig::validate(OfferType::Downgrade, 0.0, Map::new()).is_err());
        assert!(OfferConfig::validate(
            OfferType::Downgrade,
            0.0,
            obj(json!({"price_id": "price_1"}))
        )
        .is_ok());
        assert!(
            OfferConfig::validate(OfferType::Contact, 0.0, obj(json!({"url": "ftp://x"}))).is_err()
        );
        assert!(OfferConfig::validate(
            OfferType::Contact,
            0.0,
            obj(json!({"url": "https://cal.com/acme"}))
        )
        .is_ok());
        assert!(OfferConfig::validate(OfferType::Custom, 0.0, Map::new()).is_ok());
    }

    #[test]
    fn placement_rules() {
        let mrr = |v: &str| Mrr::parse_decimal(v).ok();
        let everywhere = Placement {
            target_id: None,
            triggers: vec![],
            min_mrr: None,
            max_mrr: None,
        };
        assert!(everywhere.fits("cancel-btn", None, None));
        let narrow = Placement {
            target_id: Some("cancel-btn".into()),
            triggers: vec![Trigger::Click],
            min_mrr: mrr("10"),
            max_mrr: mrr("100"),
        };
        assert!(narrow.fits("cancel-btn", Some(Trigger::Click), mrr("50")));
        assert!(!narrow.fits("other", Some(Trigger::Click), mrr("50")));
        assert!(!narrow.fits("cancel-btn", Some(Trigger::Hover), mrr("50")));
        assert!(!narrow.fits("cancel-btn", None, mrr("50")));
        assert!(!narrow.fits("cancel-btn", Some(Trigger::Click), mrr("5")));
        assert!(!narrow.fits("cancel-btn", Some(Trigger::Click), None));
        assert!(narrow.fits("cancel-btn", Some(Trigger::Click), mrr("100")));
    }

    #[test]
    fn numbers_print_like_the_contract() {
        assert_eq!(number_json(20.0), json!(20));
        assert_eq!(number_json(12.5), json!(12.5));
    }
}

//! Field rules over a JSON object, with Laravel's messages. Optional fields treat `null`
//! and blank strings as absent; strings are trimmed.
use serde_json::{Map, Value};

use super::validation::ValidationErrors;
use super::{money::MrrError, Email, Mrr};

/// `user_email` → `user email`, as Laravel names attributes in messages.
pub fn attribute(field: &str) -> String {
    field.replace('_', " ")
}

pub struct Input<'a> {
    body: &'a Map<String, Value>,
    pub errors: ValidationErrors,
}

impl<'a> Input<'a> {
    pub fn new(body: &'a Map<String, Value>) -> Input<'a> {
        Input {
            body,
            errors: ValidationErrors::default(),
        }
    }

    /// The value when present and not null / blank.
    pub fn present(&self, field: &str) -> Option<&'a Value> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// Whether the key is in the body at all (even as null): PATCH uses null to clear.
    pub fn has_key(&self, field: &str) -> bool {
        self.body.contains_key(field)
    }

    fn missing(&mut self, field: &str, required: bool) {
        if required {
            self.errors.add(
                field,
                format!("The {} field is required.", attribute(field)),
            );
        }
    }

    pub fn string(&mut self, field: &str, required: bool, max: usize) -> Option<String> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.contains('\0') {
                    // PostgreSQL cannot store NUL in text; no real identifier contains one.
                    self.errors.add(
                        field,
                        format!(
                            "The {} field must not contain NUL characters.",
                            attribute(field)
                        ),
                    );
                    None
                } else if s.chars().count() > max {
                    self.errors.add(
                        field,
                        format!(
                            "The {} field must not be greater than {max} characters.",
                            attribute(field)
                        ),
                    );
                    None
                } else {
                    Some(s.to_owned())
                }
            }
            Some(_) => {
                self.errors.add(
                    field,
                    format!("The {} field must be a string.", attribute(field)),
                );
                None
            }
        }
    }

    pub fn email(&mut self, field: &str, required: bool) -> Option<Email> {
        let raw = self.string(field, required, 254);
        if raw.is_none() && self.errors.has(field) {
            return None;
        }
        let parsed = raw.map(|r| Email::parse(&r));
        match parsed {
            Some(Ok(email)) => Some(email),
            Some(Err(_)) => {
                self.errors.add(
                    field,
                    format!(
                        "The {} field must be a valid email address.",
                        attribute(field)
                    ),
                );
                None
            }
            None => None,
        }
    }

    /// One of a fixed set of values (Laravel's `in`).
    pub fn choice<T>(
        &mut self,
        field: &str,
        required: bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::String(s)) => match parse(s.trim()) {
                Some(v) => Some(v),
                None => {
                    self.errors.add(
                        field,
                        format!("The selected {} is invalid.", attribute(field)),
                    );
                    None
                }
            },
            Some(_) => {
                self.errors.add(
                    field,
                    format!("The selected {} is invalid.", attribute(field)),
                );
                None
            }
        }
    }

    /// A JSON number (or numeric string, as Laravel accepts) that is at least 0.
    pub fn non_negative_number(&mut self, field: &str, required: bool) -> Option<f64> {
        let text = self.numeric_text(field, required)?;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Some(n),
            Ok(n) if n.is_finite() => {
                self.at_least_zero(field);
                None
            }
            _ => {
                self.not_a_number(field);
                None
            }
        }
    }

    /// Money: a number ≥ 0, kept exact to 4 decimals (more are rounded).
    pub fn mrr(&mut self, field: &str, required: bool) -> Option<Mrr> {
        let text = self.numeric_text(field, required)?;
        match Mrr::parse_decimal(&text) {
            Ok(mrr) => Some(mrr),
            Err(MrrError::Negative) => {
                self.at_least_zero(field);
                None
            }
            Err(MrrError::TooLarge) => {
                self.errors.add(
                    field,
                    format!(
                        "The {} field must not be greater than 1000000000000.",
                        attribute(field)
                    ),
                );
                None
            }
        }
    }

    fn numeric_text(&mut self, field: &str, required: bool) -> Option<String> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) if is_decimal_text(s.trim()) => Some(s.trim().to_owned()),
            Some(_) => {
                self.not_a_number(field);
                None
            }
        }
    }

    fn not_a_number(&mut self, field: &str) {
        self.errors.add(
            field,
            format!("The {} field must be a number.", attribute(field)),
        );
    }

    fn at_least_zero(&mut self, field: &str) {
        self.errors.add(
            field,
            format!("The {} field must be at least 0.", attribute(field)),
        );
    }

    /// An integer (a JSON integer, or an integral numeric string).
    pub fn integer(&mut self, field: &str, required: bool) -> Option<i64> {
        let value = match self.present(field) {
            None => {
                self.missing(field, required);
                return None;
            }
            Some(Value::Number(n)) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            }),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        if value.is_none() {
            self.errors.add(
                field,
                format!("The {} field must be an integer.", attribute(field)),
            );
        }
        value
    }

    /// An integer within [min, max] (Laravel's `integer|between`).
    pub fn integer_between(
        &mut self,
        field: &str,
        required: bool,
        min: i64,
        max: i64,
    ) -> Option<u32> {
        let value = self.integer(field, required)?;
        if (min..=max).contains(&value) {
            u32::try_from(value).ok()
        } else {
            self.errors.add(
                field,
                format!(
                    "The {} field must be between {min} and {max}.",
                    attribute(field)
                ),
            );
            None
        }
    }

    /// A number within [min, max].
    pub fn number_between(
        &mut self,
        field: &str,
        required: bool,
        min: f64,
        max: f64,
    ) -> Option<f64> {
        let text = self.numeric_text(field, required)?;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() && (min..=max).contains(&n) => Some(n),
            Ok(n) if n.is_finite() => {
                self.errors.add(
                    field,
                    format!(
                        "The {} field must be between {min} and {max}.",
                        attribute(field)
                    ),
                );
                None
            }
            _ => {
                self.not_a_number(field);
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &str, required: bool) -> Option<bool> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.errors.add(
                    field,
                    format!("The {} field must be true or false.", attribute(field)),
                );
                None
            }
        }
    }

    pub fn object(&mut self, field: &str, required: bool) -> Option<Map<String, Value>> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Object(map)) => Some(map.clone()),
            Some(_) => {
                self.errors.add(
                    field,
                    format!("The {} field must be an object.", attribute(field)),
                );
                None
            }
        }
    }

    pub fn array(&mut self, field: &str, required: bool) -> Option<Vec<Value>> {
        match self.present(field) {
            None => {
                self.missing(field, required);
                None
            }
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => {
                self.errors.add(
                    field,
                    format!("The {} field must be an array.", attribute(field)),
                );
                None
            }
        }
    }

    /// Laravel's `required_without`: at least one of the two must be given.
    pub fn require_one_of(&mut self, field: &str, other: &str) {
        if self.present(field).is_none() && self.present(other).is_none() {
            self.errors.add(
                field,
                format!(
                    "The {} field is required when {} is not present.",
                    attribute(field),
                    attribute(other)
                ),
            );
            self.errors.add(
                other,
                format!(
                    "The {} field is required when {} is not present.",
                    attribute(other),
                    attribute(field)
                ),
            );
        }
    }

    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

fn is_decimal_text(s: &str) -> bool {
    !s.is_empty()
        && s.parse::<f64>().is_ok_and(f64::is_finite)
        && !s.contains(['x', 'X', 'i', 'n', 'N'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: Value, check: impl FnOnce(&mut Input<'_>)) -> ValidationErrors {
        let map = body.as_object().unwrap().clone();
        let mut input = Input::new(&map);
        check(&mut input);
        input.errors
    }

    #[test]
    fn laravel_messages() {
        let e = run(json!({}), |i| {
            i.string("target_id", true, 255);
        });
        assert_eq!(e.summary(), "The target id field is required.");
        let e = run(json!({"target_id": 5}), |i| {
            i.string("target_id", true, 255);
        });
        assert_eq!(e.summary(), "The target id field must be a string.");
        let e = run(json!({"target_id": "x".repeat(256)}), |i| {
            i.string("target_id", true, 255);
        });
        assert_eq!(
            e.summary(),
            "The target id field must not be greater than 255 characters."
        );
        let e = run(json!({"mrr_value": -1}), |i| {
            i.mrr("mrr_value", false);
        });
        assert_eq!(e.summary(), "The mrr value field must be at least 0.");
        let e = run(json!({"mrr_value": "abc"}), |i| {
            i.mrr("mrr_value", false);
        });
        assert_eq!(e.summary(), "The mrr value field must be a number.");
        let e = run(json!({"user_email": null, "mrr_value": ""}), |i| {
            i.email("user_email", false);
            i.mrr("mrr_value", false);
        });
        assert!(e.is_empty());
        let e = run(json!({}), |i| {
            i.require_one_of("user_email", "stripe_customer_id")
        });
        assert_eq!(
            e.summary(),
            "The user email field is required when stripe customer id is not present. (and 1 more error)"
        );
    }

    #[test]
    fn numeric_strings_count_as_numbers_but_nan_does_not() {
        let e = run(json!({"a": "12.5", "b": "NaN", "c": "inf"}), |i| {
            assert_eq!(i.non_negative_number("a", true), Some(12.5));
            i.non_negative_number("b", true);
            i.non_negative_number("c", true);
        });
        assert!(e.has("b") && e.has("c") && !e.has("a"));
    }
}

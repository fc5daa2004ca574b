//! Broken validation rules, by field, with Laravel's messages and summary: what every
//! parser of client input answers, whichever way the input came in.
use serde_json::{json, Map, Value};

/// Broken validation rules, in the order they were found, grouped by field.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ValidationErrors(Vec<(String, Vec<String>)>);

impl ValidationErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field, vec![message])),
        }
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field with its messages, in the order found.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// Laravel's summary: the first message, then "(and N more errors)".
    pub fn summary(&self) -> String {
        let total: usize = self.0.iter().map(|(_, m)| m.len()).sum();
        let first = self
            .0
            .first()
            .and_then(|(_, m)| m.first())
            .cloned()
            .unwrap_or_else(|| "The given data was invalid.".into());
        match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        }
    }

    pub fn to_json(&self) -> Value {
        let errors: Map<String, Value> = self
            .0
            .iter()
            .map(|(field, messages)| (field.clone(), json!(messages)))
            .collect();
        json!({"message": self.summary(), "errors": errors})
    }
}

#[cfg(test)]
mod tests {
    use super::ValidationErrors;

    #[test]
    fn summary_counts_the_rest_like_laravel() {
        let mut errors = ValidationErrors::default();
        errors.add("target_id", "The target id field is required.");
        assert_eq!(errors.summary(), "The target id field is required.");
        errors.add(
            "user_email",
            "The user email field must be a valid email address.",
        );
        assert_eq!(
            errors.summary(),
            "The target id field is required. (and 1 more error)"
        );
        errors.add("mrr_value", "x");
        assert!(errors.summary().ends_with("(and 2 more errors)"));
        assert_eq!(
            errors.to_json()["errors"]["target_id"][0],
            "The target id field is required."
        );
    }
}

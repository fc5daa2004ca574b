//! What the owners' editing forms share: the values as the user typed them, the domain's
//! broken rules placed beside the fields they name, and the fields themselves (label, hint,
//! error, `aria-invalid` and `aria-describedby`). The rules and messages are the domain's;
//! nothing here validates.
use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::Value;

use crate::domain::validation::ValidationErrors;

/// A form as shown: what was typed (or stored), and what the domain refused.
#[derive(Debug, Default)]
pub(super) struct FormState {
    pub(super) values: HashMap<String, String>,
    pub(super) errors: ValidationErrors,
}

/// An element id for a field name (`config.url` → `config-url`).
pub(super) fn field_id(name: &str) -> String {
    name.replace(['.', '_'], "-")
}

/// A JSON value as a form shows it: text, blank for null.
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A typed value as the API would receive it: a blank field is absent (`null`).
pub(super) fn typed(raw: Option<&String>) -> Value {
    match raw.map(|v| v.trim()) {
        None | Some("") => Value::Null,
        Some(v) => Value::String(v.to_owned()),
    }
}

impl FormState {
    pub(super) fn with_values(values: HashMap<String, String>) -> FormState {
        FormState {
            values,
            errors: ValidationErrors::default(),
        }
    }

    pub(super) fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub(super) fn checked(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_empty())
    }

    /// The messages of fields named `name`, or (with `nested`) of fields under it too
    /// (`arms.0.offer_ids` holds `arms.0.offer_ids.1`'s).
    pub(super) fn messages(&self, name: &str, nested: bool) -> Vec<String> {
        self.errors
            .entries()
            .filter(|(field, _)| {
                *field == name
                    || (nested
                        && field
                            .strip_prefix(name)
                            .is_some_and(|rest| rest.starts_with('.')))
            })
            .flat_map(|(_, messages)| messages.iter().cloned())
            .collect()
    }
}

/// The messages beside a field, announced with it (`aria-describedby`).
pub(super) fn field_errors(id: &str, messages: &[String]) -> Markup {
    html! {
        @if !messages.is_empty() {
            div.field-error id={ (id) "-error" } {
                @for message in messages { p { (message) } }
            }
        }
    }
}

fn described_by(id: &str, hint: bool, invalid: bool) -> Option<String> {
    let mut parts = Vec::new();
    if hint {
        parts.push(format!("{id}-hint"));
    }
    if invalid {
        parts.push(format!("{id}-error"));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A one-line text field. `inputmode` asks phones for a numeric keyboard; the field stays
/// text, so that what the server says about a wrong number is what the user reads.
pub(super) fn text_field(
    state: &FormState,
    name: &str,
    label: &str,
    hint: Option<&str>,
    inputmode: Option<&str>,
) -> Markup {
    let id = field_id(name);
    let messages = state.messages(name, false);
    let invalid = !messages.is_empty();
    html! {
        div.field {
            label for=(id) { span { (label) } }
            @if let Some(hint) = hint { p.hint id={ (id) "-hint" } { (hint) } }
            input #(id) type="text" name=(name) value=(state.value(name)) inputmode=[inputmode]
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described_by(&id, hint.is_some(), invalid)];
            (field_errors(&id, &messages))
        }
    }
}

/// A choice of fixed values: `(value, label)`.
pub(super) fn select_field(
    state: &FormState,
    name: &str,
    label: &str,
    hint: Option<&str>,
    options: &[(&str, &str)],
) -> Markup {
    let id = field_id(name);
    let messages = state.messages(name, false);
    let invalid = !messages.is_empty();
    let chosen = state.value(name);
    html! {
        div.field {
            label for=(id) { span { (label) } }
            @if let Some(hint) = hint { p.hint id={ (id) "-hint" } { (hint) } }
            select #(id) name=(name)
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described_by(&id, hint.is_some(), invalid)] {
                @for (value, text) in options {
                    option value=(value) selected[chosen == *value] { (text) }
                }
            }
            (field_errors(&id, &messages))
        }
    }
}

/// A checkbox; checked when the form (or the stored resource) says so.
pub(super) fn checkbox(state: &FormState, name: &str, label: &str) -> Markup {
    let id = field_id(name);
    html! {
        div.field.check {
            input #(id) type="checkbox" name=(name) value="on" checked[state.checked(name)];
            label for=(id) { (label) }
        }
    }
}

/// Above a refused form: the domain's summary (Laravel's), and every message that has no
/// field of its own on the page.
pub(super) fn error_summary(state: &FormState, placed: impl Fn(&str) -> bool) -> Markup {
    let unplaced: Vec<&String> = state
        .errors
        .entries()
        .filter(|(field, _)| !placed(field))
        .flat_map(|(_, messages)| messages.iter())
        .collect();
    html! {
        @if !state.errors.is_empty() {
            div.alert #form-errors role="alert" {
                p { (state.errors.summary()) }
                @if !unplaced.is_empty() {
                    ul { @for message in unplaced { li { (message) } } }
                }
            }
        }
    }
}

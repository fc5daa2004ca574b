//! The organization's settings (owners only). Allowed origins, eligibility and experiment
//! defaults are edited in one form that goes through the same OfferSelector message as
//! `PATCH /api/v1/settings`, so the domain's `SettingsDraft` rules and messages apply; its
//! errors are shown beside their fields and the form keeps what was typed. Beside it, what
//! is never shown again: the cancel flow's signing secrets (created here, shown once, and
//! revoked), Stripe's key (stored or not) and webhook endpoint and secrets, and the ticket
//! webhook with how its latest deliveries went.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::layout::{alert, csrf_field, signed_in, Section};
use super::session::Member;
use super::ticket_webhook::ticket_webhook_form;
use super::{page, PageError};
use crate::actors::offer_selector::ManageSettings;
use crate::actors::session_desk::ManageSigningSecrets;
use crate::actors::stripe_inbox::ManageStripeWebhook;
use crate::actors::ticket_desk::{TicketWebhookStatus, RECENT_DELIVERIES};
use crate::actors::{Actors, Failure};
use crate::domain::validation::ValidationErrors;
use crate::http::routes::stripe_webhooks::webhook_path;

/// The form's number fields, in order: name, label, and the input's step.
const NUMBERS: [(&str, &str, &str); 6] = [
    (
        "offer_cooldown_days",
        "Days before the same offer again (empty: no limit)",
        "1",
    ),
    (
        "type_cooldown_days",
        "Days before the same kind of offer again (empty: no limit)",
        "1",
    ),
    (
        "max_redemptions_per_user",
        "Redemptions per end user (empty: no limit)",
        "1",
    ),
    (
        "save_validation_days",
        "Days a save must last to be held",
        "1",
    ),
    (
        "experiment_confidence",
        "Experiment confidence (0.5 to 0.999)",
        "any",
    ),
    ("experiment_min_sample_size", "Minimum sample per arm", "1"),
];
const ORIGINS: &str = "allowed_origins";
const REQUIRE_SUBSCRIPTION: &str = "require_subscription_for_changes";

fn shown(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the form holds: the current settings, or what was typed.
pub(super) struct Typed {
    fields: HashMap<String, String>,
    require_subscription: bool,
}

impl Typed {
    fn of_settings(settings: &Value) -> Typed {
        let mut fields: HashMap<String, String> = NUMBERS
            .iter()
            .map(|(name, _, _)| ((*name).to_owned(), shown(&settings[*name])))
            .collect();
        let origins = settings[ORIGINS].as_array().cloned().unwrap_or_default();
        fields.insert(
            ORIGINS.to_owned(),
            origins.iter().map(shown).collect::<Vec<_>>().join("\n"),
        );
        Typed {
            fields,
            require_subscription: settings[REQUIRE_SUBSCRIPTION] == Value::Bool(true),
        }
    }

    fn of_form(form: &HashMap<String, String>) -> Typed {
        Typed {
            fields: form.clone(),
            require_subscription: form.contains_key(REQUIRE_SUBSCRIPTION),
        }
    }

    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// The form as the JSON a client would PATCH: an empty number is `null`, a number is a JSON
/// number and anything else stays a string (so the draft names what is wrong with it); the
/// origins are one per line.
fn form_patch(typed: &Typed) -> Map<String, Value> {
    let mut patch = Map::new();
    for (name, _, _) in NUMBERS {
        let raw = typed.get(name).trim();
        let value = if raw.is_empty() {
            Value::Null
        } else if let Ok(integer) = raw.parse::<i64>() {
            Value::from(integer)
        } else {
            raw.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::from(raw), Value::Number)
        };
        patch.insert(name.to_owned(), value);
    }
    patch.insert(
        REQUIRE_SUBSCRIPTION.to_owned(),
        Value::Bool(typed.require_subscription),
    );
    let origins: Vec<Value> = typed
        .get(ORIGINS)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(Value::from)
        .collect();
    patch.insert(ORIGINS.to_owned(), Value::Array(origins));
    patch
}

/// The messages of a field (and of its items, for the origins).
pub(super) fn field_errors(errors: Option<&ValidationErrors>, name: &str) -> Vec<String> {
    errors
        .map(|errors| {
            errors
                .entries()
                .filter(|(field, _)| {
                    *field == name || field.strip_prefix(name).is_some_and(|r| r.starts_with('.'))
                })
                .flat_map(|(_, messages)| messages.iter().cloned())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn error_list(id: &str, messages: &[String]) -> Markup {
    html! {
        @if !messages.is_empty() {
            div.field-error id=(id) { @for m in messages { p { (m) } } }
        }
    }
}

fn settings_form(member: &Member, typed: &Typed, errors: Option<&ValidationErrors>) -> Markup {
    let origin_errors = field_errors(errors, ORIGINS);
    let origin_error_id = format!("{ORIGINS}-error");
    html! {
        form.stack #settings-form method="post" action="/app/settings" novalidate {
            (csrf_field(member))
            h2 { "Allowed origins" }
            label for=(ORIGINS) {
                span { "Browser origins that may call the cancel flow, one per line (e.g. https://app.example.com)" }
                @if origin_errors.is_empty() {
                    textarea #(ORIGINS) name=(ORIGINS) rows="4" { (typed.get(ORIGINS)) }
                } @else {
                    textarea #(ORIGINS) name=(ORIGINS) rows="4" aria-invalid="true"
                        aria-describedby=(origin_error_id) { (typed.get(ORIGINS)) }
                }
            }
            (error_list(&origin_error_id, &origin_errors))
            h2 { "Eligibility and experiment defaults" }
            @for (name, label, step) in NUMBERS {
                @let messages = field_errors(errors, name);
                @let error_id = format!("{name}-error");
                label for=(name) {
                    span { (label) }
                    @if messages.is_empty() {
                        input #(name) type="number" name=(name) step=(step) inputmode="decimal" value=(typed.get(name));
                    } @else {
                        input #(name) type="number" name=(name) step=(step) inputmode="decimal" value=(typed.get(name))
                            aria-invalid="true" aria-describedby=(error_id);
                    }
                }
                (error_list(&error_id, &messages))
            }
            div.field.check {
                input #(REQUIRE_SUBSCRIPTION) type="checkbox" name=(REQUIRE_SUBSCRIPTION) checked[typed.require_subscription];
                label for=(REQUIRE_SUBSCRIPTION) { "Plan changes need a subscription" }
            }
            (error_list(&format!("{REQUIRE_SUBSCRIPTION}-error"), &field_errors(errors, REQUIRE_SUBSCRIPTION)))
            button type="submit" { "Save settings" }
        }
    }
}

fn secret_rows(caption: &str, id_field: &str, list: &Value, revoke: Option<&Member>) -> Markup {
    let rows = list["data"].as_array().cloned().unwrap_or_default();
    html! {
        @if rows.is_empty() {
            p { "None." }
        } @else {
            div.table-wrap { table {
                caption.muted { (caption) }
                thead { tr {
                    th scope="col" { "Id" } th scope="col" { "Created" } th scope="col" { "State" }
                    @if revoke.is_some() { th scope="col" { "Action" } }
                } }
                tbody { @for s in &rows {
                    @let active = s["active"] == Value::Bool(true);
                    tr {
                        td { (shown(&s[id_field])) }
                        td { (shown(&s["created_at"])) }
                        td { @if active { "active" } @else { "revoked" } }
                        @if let Some(member) = revoke {
                            td { @if active {
                                form method="post" action={ "/app/settings/signing-secrets/" (shown(&s[id_field])) "/revoke" } {
                                    (csrf_field(member))
                                    button type="submit" aria-label={ "Revoke " (shown(&s[id_field])) } { "Revoke" }
                                }
                            } }
                        }
                    }
                } }
            } }
        }
    }
}

/// What the page shows besides the settings form.
pub(super) struct Shown<'a> {
    pub(super) status: StatusCode,
    /// The form as typed, with the draft's errors, after a refused save.
    pub(super) refused: Option<(Typed, ValidationErrors)>,
    pub(super) message: Option<&'a str>,
    pub(super) notice: Option<Markup>,
    /// The ticket webhook form as typed, and why it was refused.
    pub(super) ticket_webhook: Option<super::ticket_webhook::Refused>,
}

impl Shown<'_> {
    pub(super) fn plain() -> Self {
        Shown {
            status: StatusCode::OK,
            refused: None,
            ticket_webhook: None,
            message: None,
            notice: None,
        }
    }
}

pub(super) async fn settings_page(
    member: &Member,
    req: &HttpRequest,
    actors: &Actors,
    shown_now: Shown<'_>,
) -> Result<HttpResponse, PageError> {
    let base = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let organization_id = member.view.organization_id;
    let settings = actors
        .offers
        .send(ManageSettings::Get { organization_id })
        .await??;
    let signing = actors
        .sessions
        .send(ManageSigningSecrets::List { organization_id })
        .await??;
    let endpoint = actors
        .stripe_inbox
        .send(ManageStripeWebhook::Endpoint { organization_id })
        .await??;
    let webhook_secrets = actors
        .stripe_inbox
        .send(ManageStripeWebhook::ListSecrets { organization_id })
        .await??;
    let stripe_key = actors
        .stripe_inbox
        .send(ManageStripeWebhook::KeyStatus { organization_id })
        .await??;
    let tickets = actors
        .tickets
        .send(TicketWebhookStatus { organization_id })
        .await??;
    let endpoint_url = format!(
        "{base}{}",
        webhook_path(endpoint["endpoint_id"].as_str().unwrap_or_default())
    );
    let (webhook_url, webhook_format, webhook_errors) = match shown_now.ticket_webhook {
        Some((url, format, errors)) => (url, format, Some(errors)),
        None => (
            tickets.url.clone().unwrap_or_default(),
            tickets.format.clone().unwrap_or_default(),
            None,
        ),
    };
    let (typed, errors) = match shown_now.refused {
        Some((typed, errors)) => (typed, Some(errors)),
        None => (Typed::of_settings(&settings), None),
    };
    let body = html! {
        (alert(shown_now.message))
        @if let Some(notice) = shown_now.notice {
            div.notice role="status" { (notice) }
        }
        (settings_form(member, &typed, errors.as_ref()))
        h2 { "Session signing secrets" }
        p.muted { "Your backend signs end users' session tokens with one of these (at most two active, to rotate)." }
        (secret_rows("Secrets your backend signs end-user sessions with (never shown again)", "kid", &signing, Some(member)))
        form method="post" action="/app/settings/signing-secrets" {
            (csrf_field(member))
            button type="submit" { "Create a signing secret" }
        }
        h2 { "Stripe" }
        dl.facts {
            dt { "Secret key" }
            dd #stripe-key {
                @if stripe_key["stripe_key_stored"] == Value::Bool(true) { "stored (never shown)" }
                @else { "not set (saveloops org set-stripe-key)" }
            }
            dt { "Webhook endpoint" } dd #stripe-endpoint { (endpoint_url) }
        }
        (secret_rows("Stripe's webhook signing secrets (whsec_…, never shown)", "id", &webhook_secrets, None))
        h2 { "Ticket webhook" }
        (ticket_webhook_form(member, &webhook_url, &webhook_format, webhook_errors.as_ref()))
        dl.facts #ticket-webhook {
            dt { "URL" }
            dd { @match &tickets.url { Some(url) => (url), None => "not set" } }
            @if let Some(format) = &tickets.format { dt { "Format" } dd { (format) } }
            dt { "Latest " (RECENT_DELIVERIES) " tickets" }
            dd #ticket-deliveries {
                (tickets.delivered) " delivered, " (tickets.failing) " failing, " (tickets.pending) " pending"
            }
        }
    };
    Ok(page(
        HttpResponse::build(shown_now.status),
        signed_in(member, Section::Settings, "Settings", body),
    ))
}

/// `/app/settings` (owners only).
pub(super) async fn settings(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    settings_page(&member, &req, &actors, Shown::plain()).await
}

/// Saves the settings form (owners only): the same message as `PATCH /api/v1/settings`.
pub(super) async fn save(
    member: Member,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let typed = Typed::of_form(&form);
    let saved = actors
        .offers
        .send(ManageSettings::Update {
            organization_id: member.view.organization_id,
            patch: form_patch(&typed),
        })
        .await?;
    let summary;
    let shown_now = match saved {
        Ok(_) => Shown {
            notice: Some(html! { p { "Settings saved." } }),
            ..Shown::plain()
        },
        Err(Failure::Invalid(errors)) => {
            summary = format!("Nothing was saved. {}", errors.summary());
            Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: Some(&summary),
                notice: None,
                refused: Some((typed, errors)),
                ticket_webhook: None,
            }
        }
        Err(other) => return Err(other.into()),
    };
    settings_page(&member, &req, &actors, shown_now).await
}

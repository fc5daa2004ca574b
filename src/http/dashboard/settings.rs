//! The organization's settings, to read (owners only): allowed origins, the cancel flow's
//! signing secrets and Stripe's webhook endpoint and secrets (never a secret), eligibility and
//! experiment defaults. Changing them is for a later change (the JSON API does it today).
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{signed_in, Section};
use super::session::Member;
use super::{page, PageError};
use crate::actors::offer_selector::ManageSettings;
use crate::actors::session_desk::ManageSigningSecrets;
use crate::actors::stripe_inbox::ManageStripeWebhook;
use crate::actors::Actors;
use crate::http::routes::stripe_webhooks::webhook_path;

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "not set".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn secrets(caption: &str, id_field: &str, list: &Value) -> Markup {
    let rows = list["data"].as_array().cloned().unwrap_or_default();
    html! {
        @if rows.is_empty() {
            p { "None." }
        } @else {
            div.table-wrap { table {
                caption.muted { (caption) }
                thead { tr { th scope="col" { "Id" } th scope="col" { "Created" } th scope="col" { "State" } } }
                tbody { @for s in &rows { tr {
                    td { (shown(&s[id_field])) }
                    td { (shown(&s["created_at"])) }
                    td { @if s["active"] == Value::Bool(true) { "active" } @else { "revoked" } }
                } } }
            } }
        }
    }
}

/// `/app/settings` (owners only).
pub(super) async fn settings(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
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
    let origins = settings["allowed_origins"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let endpoint_url = format!(
        "{base}{}",
        webhook_path(endpoint["endpoint_id"].as_str().unwrap_or_default())
    );
    let body = html! {
        p.muted { "To read. Change settings with the API (PATCH /api/v1/settings) for now." }
        h2 { "Allowed origins" }
        @if origins.is_empty() {
            p { "None: the cancel flow answers no browser origin." }
        } @else {
            ul #allowed-origins { @for o in &origins { li { (shown(o)) } } }
        }
        h2 { "Session signing secrets" }
        (secrets("Secrets your backend signs end-user sessions with", "kid", &signing))
        h2 { "Stripe webhooks" }
        dl.facts {
            dt { "Endpoint" } dd #stripe-endpoint { (endpoint_url) }
        }
        (secrets("Stripe's signing secrets (whsec_…, never shown)", "id", &webhook_secrets))
        h2 { "Eligibility" }
        dl.facts #eligibility {
            dt { "Days before the same offer again" } dd { (shown(&settings["offer_cooldown_days"])) }
            dt { "Days before the same kind of offer again" } dd { (shown(&settings["type_cooldown_days"])) }
            dt { "Redemptions per end user" } dd { (shown(&settings["max_redemptions_per_user"])) }
            dt { "Plan changes need a subscription" } dd { (shown(&settings["require_subscription_for_changes"])) }
            dt { "Days a save must last to be held" } dd { (shown(&settings["save_validation_days"])) }
        }
        h2 { "Experiment defaults" }
        dl.facts #experiment-defaults {
            dt { "Confidence" } dd { (shown(&settings["experiment_confidence"])) }
            dt { "Minimum sample per arm" } dd { (shown(&settings["experiment_min_sample_size"])) }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Settings, "Settings", body),
    ))
}

//! The organization's experiments (owners only): the list, and a new one (its arms and their
//! offers, target, trigger, confidence, sample size; a draft or started at once). The same
//! OfferSelector messages as the experiments API (`ManageExperiments`), which checks the arms
//! against the catalog with the API's rules and messages.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::forms::{
    error_summary, field_errors, field_id, select_field, text, text_field, typed, FormState,
};
use super::layout::{csrf_field, signed_in, Section};
use super::session::Member;
use super::tickets::short_time;
use super::{page, see_other, PageError};
use crate::actors::offer_selector::{ManageExperiments, ManageOffers};
use crate::actors::{Actors, Failure};
use crate::domain::experiment_draft::MAX_ARMS;
use crate::domain::Trigger;
use crate::http::query::Query;

/// Arm rows a new form shows; `?arms=N` shows more (up to the API's limit).
const ARM_ROWS: usize = 3;

/// `/app/experiments`: every experiment.
pub(super) async fn list(
    member: Member,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let listed = actors
        .offers
        .send(ManageExperiments::List {
            organization_id: member.view.organization_id,
        })
        .await??;
    let experiments = listed["data"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p { a.button href="/app/experiments/new" { "New experiment" } }
        @if experiments.is_empty() {
            p { "No experiments yet." }
        } @else {
            div.table-wrap { table #experiments {
                caption.muted { "Experiments" }
                thead { tr {
                    th scope="col" { "Experiment" } th scope="col" { "Target" } th scope="col" { "Trigger" }
                    th scope="col" { "Status" } th scope="col" { "Arms" } th scope="col" { "Started" }
                    th scope="col" { "Stopped" } th scope="col" { "Promoted" }
                } }
                tbody { @for e in &experiments { tr #{ "experiment-" (text(&e["id"])) } {
                    td { a href={ "/app/experiments/" (text(&e["id"])) } { (text(&e["name"])) } }
                    td { (text(&e["target_id"])) }
                    td { @if e["trigger"].is_null() { span.muted { "any" } } @else { (text(&e["trigger"])) } }
                    td.status { (text(&e["status"])) }
                    td.num { (e["arms"].as_array().map_or(0, Vec::len)) }
                    td { (short_time(&e["started_at"])) }
                    td { (short_time(&e["stopped_at"])) }
                    td { (text(&e["promoted_arm"])) }
                } } }
            } }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Experiments, "Experiments", body),
    ))
}

/// The arm rows a form holds: the ones posted (up to the last one with anything in it).
fn filled_rows(form: &HashMap<String, String>) -> usize {
    (0..MAX_ARMS)
        .rev()
        .find(|row| {
            let prefix = format!("arms.{row}.");
            form.iter()
                .any(|(key, value)| key.starts_with(&prefix) && !value.trim().is_empty())
                || form.get("control").map(String::as_str) == Some(&row.to_string())
        })
        .map_or(0, |row| row + 1)
}

/// The body of `POST /api/v1/experiments` from the form. Arm rows after the last one with
/// anything in them are left out; a blank row in between is an arm (and the rules say what it
/// lacks), so that the rules' `arms.N` is the form's row N.
pub(super) fn body_of(form: &HashMap<String, String>) -> Map<String, Value> {
    let mut body = Map::new();
    for field in [
        "name",
        "target_id",
        "trigger",
        "confidence",
        "min_sample_size",
    ] {
        body.insert(field.into(), typed(form.get(field)));
    }
    let status = typed(form.get("status"));
    if !status.is_null() {
        body.insert("status".into(), status);
    }
    let control = form.get("control").map(|c| c.trim().to_owned());
    let arms: Vec<Value> = (0..filled_rows(form))
        .map(|row| {
            let prefix = format!("arms.{row}.offer.");
            let mut offers: Vec<(i64, Value)> = form
                .keys()
                .filter_map(|key| key.strip_prefix(&prefix))
                .map(|raw| match raw.parse::<i64>() {
                    Ok(id) => (id, Value::from(id)),
                    // Not an offer's id: as typed, and the rules refuse it.
                    Err(_) => (i64::MAX, Value::from(raw)),
                })
                .collect();
            offers.sort_by_key(|(id, _)| *id);
            let mut arm = Map::new();
            arm.insert("name".into(), typed(form.get(&format!("arms.{row}.name"))));
            arm.insert(
                "weight".into(),
                typed(form.get(&format!("arms.{row}.weight"))),
            );
            arm.insert(
                "control".into(),
                Value::Bool(control.as_deref() == Some(&row.to_string())),
            );
            arm.insert(
                "offer_ids".into(),
                Value::Array(offers.into_iter().map(|(_, v)| v).collect()),
            );
            Value::Object(arm)
        })
        .collect();
    body.insert("arms".into(), Value::Array(arms));
    body
}

/// Whether the form shows `field`'s errors beside a field of its own.
fn placed(field: &str) -> bool {
    let arm_field = field.strip_prefix("arms.").and_then(|rest| {
        let (row, name) = rest.split_once('.')?;
        (row.parse::<usize>().ok()? < MAX_ARMS).then_some(name)
    });
    matches!(
        field,
        "name" | "target_id" | "trigger" | "status" | "confidence" | "min_sample_size" | "arms"
    ) || arm_field.is_some_and(|name| {
        matches!(name, "name" | "weight" | "offer_ids") || name.starts_with("offer_ids.")
    })
}

fn arm_row(state: &FormState, row: usize, offers: &[Value]) -> Markup {
    let offer_errors = state.messages(&format!("arms.{row}.offer_ids"), true);
    let offers_id = field_id(&format!("arms.{row}.offer_ids"));
    let control = state.value("control") == row.to_string()
        || (row == 0 && state.value("control").is_empty());
    html! {
        fieldset.arm {
            legend { "Arm " (row + 1) }
            (text_field(state, &format!("arms.{row}.name"), "Name", Some("Unique, at most 64 characters."), None))
            (text_field(state, &format!("arms.{row}.weight"), "Weight", Some("1–10000; blank: 1. The arm gets weight / total weight of the traffic."), Some("numeric")))
            div.field.check {
                input #{ "control-" (row) } type="radio" name="control" value=(row) checked[control];
                label for={ "control-" (row) } { "The control arm" }
            }
            fieldset.choices aria-describedby=[(!offer_errors.is_empty()).then(|| format!("{offers_id}-error"))] {
                legend { "Offers shown in this arm" }
                @if offers.is_empty() {
                    p.muted { "No offers yet: create them first." }
                }
                @for o in offers {
                    @let name = format!("arms.{row}.offer.{}", text(&o["id"]));
                    @let id = field_id(&name);
                    div.field.check {
                        input #(id) type="checkbox" name=(name) value="on" checked[state.checked(&name)];
                        label for=(id) {
                            (text(&o["label"])) " (#" (text(&o["id"])) ", " (text(&o["type"]))
                            @if o["active"] != Value::Bool(true) { ", inactive: shows only through the experiment" }
                            ")"
                        }
                    }
                }
                (field_errors(&offers_id, &offer_errors))
            }
        }
    }
}

fn new_page(
    member: &Member,
    status: StatusCode,
    state: &FormState,
    offers: &[Value],
    rows: usize,
) -> HttpResponse {
    let mut triggers = vec![("", "any trigger")];
    triggers.extend(Trigger::NAMES.iter().map(|t| (*t, *t)));
    let arms_errors = state.messages("arms", false);
    let body = html! {
        p { a href="/app/experiments" { "Back to the experiments" } }
        (error_summary(state, placed))
        form.stack method="post" action="/app/experiments/new" novalidate {
            (csrf_field(member))
            fieldset {
                legend { "The experiment" }
                (text_field(state, "name", "Name", Some("At most 255 characters."), None))
                (text_field(state, "target_id", "Target", Some("The intercept target it runs on."), None))
                (select_field(state, "trigger", "Trigger", Some("With a trigger, only calls that state it are in the experiment."), &triggers))
                (text_field(state, "confidence", "Confidence", Some("0.5–0.999. Blank: the organization's default."), Some("decimal")))
                (text_field(state, "min_sample_size", "Sample size per arm", Some("Exposures each arm needs before a winner is named, 1–10000000. Blank: the organization's default."), Some("numeric")))
            }
            h2 #arms-heading { "Arms" }
            p.hint { "2 to 10 arms. An offer can be in one arm only; rows left blank at the end are ignored." }
            (field_errors("arms", &arms_errors))
            @for row in 0..rows { (arm_row(state, row, offers)) }
            @if rows < MAX_ARMS {
                p { a href={ "/app/experiments/new?arms=" (MAX_ARMS) } { "More arm rows (a new, empty form)" } }
            }
            (select_field(state, "status", "When saved", None, &[("draft", "keep it a draft"), ("running", "start it now")]))
            button type="submit" { "Create experiment" }
        }
    };
    page(
        HttpResponse::build(status),
        signed_in(member, Section::Experiments, "New experiment", body),
    )
}

async fn offers_of(actors: &Actors, member: &Member) -> Result<Vec<Value>, PageError> {
    let listed = actors
        .offers
        .send(ManageOffers::List {
            organization_id: member.view.organization_id,
        })
        .await??;
    Ok(listed["data"].as_array().cloned().unwrap_or_default())
}

/// `/app/experiments/new`: an empty form.
pub(super) async fn new(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let rows = Query::of(&req)
        .ok()
        .and_then(|q| q.get("arms").and_then(|n| n.parse::<usize>().ok()))
        .map_or(ARM_ROWS, |n| n.clamp(2, MAX_ARMS));
    let offers = offers_of(&actors, &member).await?;
    let state = FormState::default();
    Ok(new_page(&member, StatusCode::OK, &state, &offers, rows))
}

/// Creates the experiment, or shows the form again as typed with the API's messages.
pub(super) async fn create(
    member: Member,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let form = form.into_inner();
    let created = actors
        .offers
        .send(ManageExperiments::Create {
            organization_id: member.view.organization_id,
            body: body_of(&form),
        })
        .await?;
    match created {
        Ok(experiment) => Ok(see_other(&format!(
            "/app/experiments/{}",
            text(&experiment["id"])
        ))),
        Err(Failure::Invalid(errors)) => {
            let offers = offers_of(&actors, &member).await?;
            let rows = filled_rows(&form).max(ARM_ROWS);
            let state = FormState {
                values: form,
                errors,
            };
            Ok(new_page(
                &member,
                StatusCode::UNPROCESSABLE_ENTITY,
                &state,
                &offers,
                rows,
            ))
        }
        Err(other) => Err(other.into()),
    }
}

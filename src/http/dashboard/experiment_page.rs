//! One experiment (owners only): what it is, its arms and their offers, the results per arm
//! with their 95 % intervals, the verdict and its reason; start, stop, and promotion of the
//! winner or a chosen arm. The same `ManageExperiments` messages as the experiments API, so
//! the rules (what may change when, one running experiment per target and trigger, no
//! promotion without a winner) and their messages are the API's.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::forms::text;
use super::layout::{alert, csrf_field, signed_in, Section};
use super::session::Member;
use super::tickets::short_time;
use super::{page, see_other, PageError};
use crate::actors::offer_selector::{ManageExperiments, ManageOffers};
use crate::actors::{Actors, Failure};

fn experiment_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| PageError::NotFound(format!("Experiment {raw} not found.")))
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

/// A difference of rates, in percentage points.
fn points(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |v| format!("{:+.1} pts", v * 100.0))
}

fn interval(value: &Value, show: fn(&Value) -> String) -> String {
    if value.is_null() {
        "–".to_owned()
    } else {
        format!("{} to {}", show(&value["low"]), show(&value["high"]))
    }
}

fn results_table(results: &Value) -> Markup {
    let arms = results["arms"].as_array().cloned().unwrap_or_default();
    html! {
        dl.facts #verdict-box {
            dt { "Verdict" } dd #verdict { (text(&results["verdict"])) }
            dt { "Why" } dd #verdict-reason { (text(&results["verdict_reason"])) }
            dt { "Winner" } dd #winner { @if results["winner"].is_null() { span.muted { "none" } } @else { (text(&results["winner"])) } }
            dt { "Confidence" } dd { (text(&results["confidence"])) " (alpha per comparison " (text(&results["alpha"])) ")" }
            dt { "Sample size per arm" } dd { (text(&results["min_sample_size"])) }
        }
        div.table-wrap { table #results {
            caption.muted { "Results per arm; intervals are 95 %" }
            thead { tr {
                th scope="col" { "Arm" } th scope="col" class="num" { "Impressions" } th scope="col" class="num" { "Exposures" }
                th scope="col" class="num" { "Saves" } th scope="col" class="num" { "Held saves" } th scope="col" { "Save rate (interval)" }
                th scope="col" class="num" { "Saved MRR" } th scope="col" { "Against the control" }
            } }
            tbody { @for (index, arm) in arms.iter().enumerate() {
                @let versus = &arm["vs_control"];
                tr #{ "arm-" (index) } {
                    th scope="row" { (text(&arm["name"])) @if arm["control"] == Value::Bool(true) { " (control)" } }
                    td.num.impressions { (text(&arm["impressions"])) }
                    td.num.exposures { (text(&arm["exposures"])) }
                    td.num.saves { (text(&arm["saves"])) }
                    td.num.held { (text(&arm["held_saves"])) }
                    td.rate { (percent(&arm["save_rate"])) br; span.muted { (interval(&arm["save_rate_interval"], percent)) } }
                    td.num { (text(&arm["saved_mrr"])) }
                    td.versus {
                        @if arm["control"] == Value::Bool(true) {
                            span.muted { "the control" }
                        } @else if versus.is_null() {
                            span.muted { "not enough data" }
                        } @else {
                            (points(&versus["difference"])) " (" (interval(&versus["difference_interval"], points)) ")"
                            br; span.muted { "p = " (format!("{:.4}", versus["p_value"].as_f64().unwrap_or(1.0)))
                                @if versus["significant"] == Value::Bool(true) { ", significant" } @else { ", not significant" } }
                        }
                    }
                }
            } }
        } }
    }
}

fn arms_table(experiment: &Value, offers: &HashMap<i64, Value>) -> Markup {
    let arms = experiment["arms"].as_array().cloned().unwrap_or_default();
    html! {
        div.table-wrap { table #arms {
            caption.muted { "Arms" }
            thead { tr { th scope="col" { "Arm" } th scope="col" class="num" { "Weight" } th scope="col" { "Offers" } } }
            tbody { @for arm in &arms { tr {
                th scope="row" { (text(&arm["name"])) @if arm["control"] == Value::Bool(true) { " (control)" } }
                td.num { (text(&arm["weight"])) }
                td { ul.plain { @for id in arm["offer_ids"].as_array().into_iter().flatten() {
                    li { a href={ "/app/offers/" (text(id)) } {
                        @match id.as_i64().and_then(|id| offers.get(&id)) {
                            Some(o) => { (text(&o["label"])) " (#" (text(id)) @if o["active"] != Value::Bool(true) { ", inactive" } ")" },
                            None => { "Offer " (text(id)) },
                        }
                    } }
                } } }
            } } }
        } }
    }
}

fn promotion_choices(experiment: &Value) -> Markup {
    html! {
        option value="winner" { "the verdict's winner (refused when there is none)" }
        @for arm in experiment["arms"].as_array().into_iter().flatten() {
            option value={ "arm:" (text(&arm["name"])) } { "arm " (text(&arm["name"])) }
        }
    }
}

fn actions(member: &Member, experiment: &Value, action: &str) -> Markup {
    let status = experiment["status"].as_str().unwrap_or("");
    let promoted = !experiment["promoted_arm"].is_null();
    html! {
        div.actions {
            @if status == "draft" {
                form.stack method="post" action=(action) aria-label="Start" {
                    (csrf_field(member))
                    input type="hidden" name="action" value="start";
                    p { "Starting freezes the target, trigger and arms." }
                    button type="submit" { "Start experiment" }
                }
            }
            @if status == "draft" || status == "running" {
                form.stack method="post" action=(action) aria-label="Stop" {
                    (csrf_field(member))
                    input type="hidden" name="action" value="stop";
                    @if status == "running" {
                        label for="stop-promote" { span { "Promote when it stops" } }
                        select #stop-promote name="promote" {
                            option value="" { "nothing" }
                            (promotion_choices(experiment))
                        }
                    }
                    p { "Stopped is final: intercepts go back to the normal offers." }
                    button type="submit" { "Stop experiment" }
                }
            }
            @if status == "stopped" && !promoted && !experiment["started_at"].is_null() {
                form.stack method="post" action=(action) aria-label="Promote" {
                    (csrf_field(member))
                    input type="hidden" name="action" value="promote";
                    label for="promote" { span { "Promote" } }
                    select #promote name="promote" { (promotion_choices(experiment)) }
                    p { "The arm's offers become active; the other arms' experiment-only offers become inactive." }
                    button type="submit" { "Promote" }
                }
            }
        }
    }
}

async fn experiment_page(
    member: &Member,
    actors: &Actors,
    id: i64,
    status: StatusCode,
    message: Option<&str>,
    promotion: Option<&Value>,
) -> Result<HttpResponse, PageError> {
    let organization_id = member.view.organization_id;
    let experiment = actors
        .offers
        .send(ManageExperiments::Get {
            organization_id,
            experiment_id: id,
        })
        .await??;
    let results = actors
        .offers
        .send(ManageExperiments::Results {
            organization_id,
            experiment_id: id,
        })
        .await??;
    let offers: HashMap<i64, Value> = actors
        .offers
        .send(ManageOffers::List { organization_id })
        .await??["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["id"].as_i64()?, o.clone())))
        .collect();
    let action = format!("/app/experiments/{id}");
    let body = html! {
        (alert(message))
        @if let Some(promotion) = promotion {
            p.notice #promotion role="status" {
                "Promoted arm " (text(&promotion["arm"])) ". Activated offers: " (list(&promotion["activated"]))
                "; deactivated: " (list(&promotion["deactivated"])) "; kept as they were: " (list(&promotion["kept"])) "."
            }
        }
        p { a href="/app/experiments" { "Back to the experiments" } }
        dl.facts {
            dt { "Status" } dd #experiment-status { (text(&experiment["status"])) }
            dt { "Target" } dd { (text(&experiment["target_id"])) }
            dt { "Trigger" } dd { @if experiment["trigger"].is_null() { "any" } @else { (text(&experiment["trigger"])) } }
            dt { "Started" } dd { (short_time(&experiment["started_at"])) }
            dt { "Stopped" } dd { (short_time(&experiment["stopped_at"])) }
            dt { "Promoted arm" } dd #promoted-arm { (text(&experiment["promoted_arm"])) }
        }
        (arms_table(&experiment, &offers))
        h2 { "Results" }
        (results_table(&results))
        h2 { "Actions" }
        (actions(member, &experiment, &action))
    };
    let title = format!("Experiment {id}: {}", text(&experiment["name"]));
    Ok(page(
        HttpResponse::build(status),
        signed_in(member, Section::Experiments, &title, body),
    ))
}

fn list(ids: &Value) -> String {
    let ids: Vec<String> = ids.as_array().into_iter().flatten().map(text).collect();
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

/// `/app/experiments/{id}`.
pub(super) async fn experiment(
    member: Member,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let id = experiment_id(&id)?;
    experiment_page(&member, &actors, id, StatusCode::OK, None, None).await
}

fn promotion_fields(choice: &str) -> Map<String, Value> {
    let mut patch = Map::new();
    match choice.strip_prefix("arm:") {
        Some(arm) => {
            patch.insert("promote_arm".into(), Value::from(arm));
        }
        None if choice == "winner" => {
            patch.insert("promote_winner".into(), Value::Bool(true));
        }
        // Anything else is passed on as the API would get it, to be refused there.
        None if !choice.is_empty() => {
            patch.insert("promote_arm".into(), Value::from(choice));
        }
        None => {}
    }
    patch
}

/// Start, stop (and promote), or promote after the stop.
pub(super) async fn change(
    member: Member,
    id: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let id = experiment_id(&id)?;
    let choice = form.get("promote").map_or("", |p| p.trim());
    let patch = match form.get("action").map_or("", |a| a.trim()) {
        "start" => Map::from_iter([("status".to_owned(), Value::from("running"))]),
        "stop" => {
            let mut patch = promotion_fields(choice);
            patch.insert("status".into(), Value::from("stopped"));
            patch
        }
        "promote" if !choice.is_empty() => promotion_fields(choice),
        "promote" => {
            let message = "Choose the arm to promote.";
            return experiment_page(
                &member,
                &actors,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                None,
            )
            .await;
        }
        _ => {
            let message = "Choose what to change.";
            return experiment_page(
                &member,
                &actors,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                None,
            )
            .await;
        }
    };
    let changed = actors
        .offers
        .send(ManageExperiments::Update {
            organization_id: member.view.organization_id,
            experiment_id: id,
            patch,
        })
        .await?;
    match changed {
        Ok(experiment) => {
            let promotion = &experiment["promotion"];
            if promotion.is_null() {
                return Ok(see_other(&format!("/app/experiments/{id}")));
            }
            // What the promotion changed is in the answer only: shown now, not stored.
            experiment_page(&member, &actors, id, StatusCode::OK, None, Some(promotion)).await
        }
        Err(Failure::Invalid(errors)) => {
            let messages: Vec<String> = errors
                .entries()
                .flat_map(|(_, messages)| messages.iter().cloned())
                .collect();
            experiment_page(
                &member,
                &actors,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&messages.join(" ")),
                None,
            )
            .await
        }
        Err(Failure::Refused(message)) => {
            experiment_page(
                &member,
                &actors,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&message),
                None,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

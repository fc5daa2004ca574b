//! The organization's offers (owners only): the list, active and deactivated; a new offer;
//! one offer to edit, deactivate or activate again. The same OfferSelector messages as the
//! offers API (`ManageOffers`), with its rules and messages (`parse_offer`), so the selector's
//! cached catalog is forgotten on every change as it is for the API.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde_json::{json, Value};

use super::forms::{text, FormState};
use super::layout::{alert, csrf_field, signed_in, Section};
use super::offer_form::{body_of, offer_form, terms, values_of};
use super::session::Member;
use super::tickets::short_time;
use super::{page, see_other, PageError};
use crate::actors::offer_selector::ManageOffers;
use crate::actors::{Actors, Failure};
use crate::domain::offer_draft::parse_offer;
use crate::http::query::Query;

/// An id from the path; anything else is no such offer.
pub(super) fn offer_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| PageError::NotFound(format!("Offer {raw} not found.")))
}

/// What a redirect after a change says on the next page (a fixed set: nothing from the
/// query string is echoed).
fn notice(req: &HttpRequest) -> Option<&'static str> {
    let query = Query::of(req).ok()?;
    match query.get("done") {
        Some("created") => Some("Offer created."),
        Some("saved") => Some("Offer saved."),
        Some("deactivated") => Some(
            "Offer deactivated: it no longer shows, except through an experiment that holds it.",
        ),
        Some("activated") => Some("Offer activated."),
        _ => None,
    }
}

/// `/app/offers`: every offer, active or not.
pub(super) async fn list(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let listed = actors
        .offers
        .send(ManageOffers::List {
            organization_id: member.view.organization_id,
        })
        .await??;
    let offers = listed["data"].as_array().cloned().unwrap_or_default();
    let body = html! {
        @if let Some(notice) = notice(&req) { p.notice role="status" { (notice) } }
        p { a.button href="/app/offers/new" { "New offer" } }
        @if offers.is_empty() {
            p { "No offers yet." }
        } @else {
            div.table-wrap { table #offers {
                caption.muted { "Offers, in the order intercept considers them" }
                thead { tr {
                    th scope="col" { "Offer" } th scope="col" { "Type" } th scope="col" { "Terms" }
                    th scope="col" { "Target" } th scope="col" { "Triggers" } th scope="col" { "Priority" }
                    th scope="col" { "State" }
                } }
                tbody { @for o in &offers { tr #{ "offer-" (text(&o["id"])) } {
                    td { a href={ "/app/offers/" (text(&o["id"])) } { (text(&o["label"])) } }
                    td { (text(&o["type"])) }
                    td { (terms(o)) }
                    td { @if o["target_id"].is_null() { span.muted { "every target" } } @else { (text(&o["target_id"])) } }
                    td { (triggers(o)) }
                    td.num { (text(&o["priority"])) }
                    td.state { @if o["active"] == Value::Bool(true) { "active" } @else { "deactivated" } }
                } } }
            } }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Offers, "Offers", body),
    ))
}

fn triggers(offer: &Value) -> String {
    let names: Vec<String> = offer["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if names.is_empty() {
        "every trigger".into()
    } else {
        names.join(", ")
    }
}

fn new_page(member: &Member, status: StatusCode, state: &FormState) -> HttpResponse {
    let body = html! {
        p { a href="/app/offers" { "Back to the offers" } }
        (offer_form(member, state, "/app/offers/new", "Create offer", true))
    };
    page(
        HttpResponse::build(status),
        signed_in(member, Section::Offers, "New offer", body),
    )
}

/// `/app/offers/new`: an empty form (active, as the API's default).
pub(super) async fn new(member: Member) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let state = FormState::with_values(HashMap::from([("active".to_owned(), "on".to_owned())]));
    Ok(new_page(&member, StatusCode::OK, &state))
}

/// Creates the offer, or shows the form again as typed with the API's messages.
pub(super) async fn create(
    member: Member,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let form = form.into_inner();
    let refused = |errors| {
        let state = FormState {
            values: form.clone(),
            errors,
        };
        Ok(new_page(&member, StatusCode::UNPROCESSABLE_ENTITY, &state))
    };
    let draft = match parse_offer(&body_of(&form, true)) {
        Ok(draft) => draft,
        Err(errors) => return refused(errors),
    };
    let created = actors
        .offers
        .send(ManageOffers::Create {
            organization_id: member.view.organization_id,
            draft,
        })
        .await?;
    match created {
        Ok(offer) => Ok(see_other(&format!(
            "/app/offers/{}?done=created",
            text(&offer["id"])
        ))),
        Err(Failure::Invalid(errors)) => refused(errors),
        Err(other) => Err(other.into()),
    }
}

/// What the offer page says above it: a change done, or why one was refused.
enum Banner<'a> {
    None,
    Done(&'a str),
    Refused(&'a str),
}

fn offer_page(
    member: &Member,
    offer: &Value,
    status: StatusCode,
    state: &FormState,
    banner: Banner<'_>,
) -> HttpResponse {
    let id = text(&offer["id"]);
    let action = format!("/app/offers/{id}");
    let active = offer["active"] == Value::Bool(true);
    let switch = if active { "Deactivate" } else { "Activate" };
    let body = html! {
        @match banner {
            Banner::Done(notice) => p.notice role="status" { (notice) },
            Banner::Refused(message) => (alert(Some(message))),
            Banner::None => {},
        }
        p { a href="/app/offers" { "Back to the offers" } }
        dl.facts {
            dt { "State" } dd #offer-state { @if active { "active" } @else { "deactivated" } }
            dt { "Terms" } dd #offer-terms { (terms(offer)) }
            dt { "Updated" } dd { (short_time(&offer["updated_at"])) }
        }
        h2 { "Edit" }
        (offer_form(member, state, &action, "Save offer", false))
        h2 { (switch) }
        form.stack method="post" action=(action) aria-label=(switch) {
            (csrf_field(member))
            @if active {
                input type="hidden" name="action" value="deactivate";
                p { "A deactivated offer no longer shows, except through an experiment that holds it. It stays in the list, with its history." }
                button type="submit" { "Deactivate offer" }
            } @else {
                input type="hidden" name="action" value="activate";
                button type="submit" { "Activate offer" }
            }
        }
    };
    let title = format!("Offer {id}: {}", text(&offer["label"]));
    page(
        HttpResponse::build(status),
        signed_in(member, Section::Offers, &title, body),
    )
}

async fn stored(actors: &Actors, member: &Member, offer_id: i64) -> Result<Value, PageError> {
    Ok(actors
        .offers
        .send(ManageOffers::Get {
            organization_id: member.view.organization_id,
            offer_id,
        })
        .await??)
}

/// `/app/offers/{id}`: the offer, its form filled from what is stored.
pub(super) async fn offer(
    member: Member,
    req: HttpRequest,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let offer = stored(&actors, &member, offer_id(&id)?).await?;
    let state = FormState::with_values(values_of(&offer));
    let banner = notice(&req).map_or(Banner::None, Banner::Done);
    Ok(offer_page(&member, &offer, StatusCode::OK, &state, banner))
}

/// Saves the form over the offer (`action` save), or deactivates or activates it. A refused
/// change shows the form again as typed, with the API's messages, and changes nothing.
pub(super) async fn change(
    member: Member,
    id: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let offer_id = offer_id(&id)?;
    let form = form.into_inner();
    let current = stored(&actors, &member, offer_id).await?;
    let action = form.get("action").map_or("save", |a| a.trim());
    let (patch, done) = match action {
        "deactivate" => (json!({"active": false}), "deactivated"),
        "activate" => (json!({"active": true}), "activated"),
        "save" => (Value::Object(body_of(&form, false)), "saved"),
        _ => {
            let state = FormState::with_values(values_of(&current));
            return Ok(offer_page(
                &member,
                &current,
                StatusCode::UNPROCESSABLE_ENTITY,
                &state,
                Banner::Refused("Choose what to change."),
            ));
        }
    };
    let changed = actors
        .offers
        .send(ManageOffers::Update {
            organization_id: member.view.organization_id,
            offer_id,
            patch: patch.as_object().cloned().unwrap_or_default(),
        })
        .await?;
    match changed {
        Ok(_) => Ok(see_other(&format!("/app/offers/{offer_id}?done={done}"))),
        Err(Failure::Invalid(errors)) => {
            // The form as typed when it was the form that was refused; otherwise as stored,
            // with the reason above it.
            let summary = errors.summary();
            let (state, banner) = if action == "save" {
                (
                    FormState {
                        values: form,
                        errors,
                    },
                    Banner::None,
                )
            } else {
                (
                    FormState::with_values(values_of(&current)),
                    Banner::Refused(&summary),
                )
            };
            Ok(offer_page(
                &member,
                &current,
                StatusCode::UNPROCESSABLE_ENTITY,
                &state,
                banner,
            ))
        }
        Err(other) => Err(other.into()),
    }
}

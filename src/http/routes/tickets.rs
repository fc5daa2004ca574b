//! Support tickets, for support staff (with the organization's key).
use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde_json::{Map, Value};

use super::path_id;
use crate::actors::ticket_desk::WorkTickets;
use crate::actors::Actors;
use crate::http::docs::{
    BodyErrors, KeyedErrors, Message, Ticket, TicketPage, TicketPatch, TicketStatus, Unprocessable,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};
use crate::http::validation::Input;
use crate::tickets::STATUSES;

fn status_of(raw: &str) -> Option<String> {
    STATUSES.contains(&raw).then(|| raw.to_owned())
}

/// The organization's support tickets, newest first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "support tickets", operation_id = "list_tickets", security(("api_key" = [])),
    params(
        ("status" = Option<TicketStatus>, Query, description = "Only tickets in this status."),
        ("page" = Option<u64>, Query, minimum = 1, description = "From 1 (default 1)."),
        ("per_page" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Default 25."),
    ),
    responses(
        (status = 200, description = "A page of tickets.", body = TicketPage),
        (status = 400, description = "The query string could not be read.", body = Message),
        (status = 422, description = "Invalid filter or paging.", body = Unprocessable),
        KeyedErrors,
    ))]
pub async fn list(
    tenant: Tenant,
    query: web::Query<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let params: Map<String, Value> = query
        .into_inner()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let mut input = Input::new(&params);
    let status = input.choice("status", false, status_of);
    let page = input.integer("page", false).unwrap_or(1);
    let per_page = input.integer("per_page", false).unwrap_or(25);
    if page < 1 {
        input
            .errors
            .add("page", "The page field must be at least 1.");
    }
    if !(1..=100).contains(&per_page) {
        input
            .errors
            .add("per_page", "The per page field must be between 1 and 100.");
    }
    input.finish()?;
    let tickets = actors
        .tickets
        .send(WorkTickets::List {
            organization_id: tenant.organization_id,
            status,
            page: page as u64,
            per_page: per_page as u64,
        })
        .await??;
    Ok(HttpResponse::Ok().json(tickets))
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "support tickets", operation_id = "get_ticket", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The ticket id.")),
    responses((status = 200, description = "The ticket.", body = Ticket), (status = 404, description = "No such ticket for this organization.", body = Message), KeyedErrors))]
pub async fn get(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let ticket = actors
        .tickets
        .send(WorkTickets::Get {
            organization_id: tenant.organization_id,
            ticket_id: path_id(&id, "Ticket")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(ticket))
}

/// Changes a ticket's status, assignee or note.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "support tickets", operation_id = "update_ticket", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The ticket id.")),
    request_body = TicketPatch,
    responses((status = 200, description = "The changed ticket.", body = Ticket), (status = 404, description = "No such ticket for this organization.", body = Message), BodyErrors, KeyedErrors))]
pub async fn update(
    tenant: Tenant,
    id: web::Path<String>,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let ticket_id = path_id(&id, "Ticket")?;
    let mut input = Input::new(&body);
    let status = input.choice("status", false, status_of);
    // A key given as null (or blank) clears the field.
    let clearable = |input: &mut Input, field: &str, max: usize| {
        let value = input.string(field, false, max);
        input.has_key(field).then_some(value)
    };
    let assignee = clearable(&mut input, "assignee", 255);
    let note = clearable(&mut input, "note", 5000);
    input.finish()?;
    let ticket = actors
        .tickets
        .send(WorkTickets::Update {
            organization_id: tenant.organization_id,
            ticket_id,
            status,
            assignee,
            note,
        })
        .await??;
    Ok(HttpResponse::Ok().json(ticket))
}

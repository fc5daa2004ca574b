//! Support tickets, for support staff (with the organization's key).
use actix_web::{web, HttpRequest, HttpResponse};

use super::path_id;
use crate::actors::ticket_desk::WorkTickets;
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::paging::{PageRequest, MAX_PAGE};
use crate::domain::ticket::STATUSES;
use crate::http::docs::{
    BodyErrors, KeyedErrors, Message, Ticket, TicketPage, TicketPatch, TicketStatus, Unprocessable,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};
use crate::http::query::Query;

/// A page of tickets: 1 to 100 of them, 25 unless asked.
const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 25;

fn status_of(raw: &str) -> Option<String> {
    STATUSES.contains(&raw).then(|| raw.to_owned())
}

/// The organization's support tickets, newest first.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "support tickets", operation_id = "list_tickets", security(("api_key" = [])),
    params(
        ("status" = Option<TicketStatus>, Query, description = "Only tickets in this status."),
        ("page" = Option<u64>, Query, minimum = 1, maximum = 1_000_000, description = "From 1 (default 1)."),
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
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::of(&req)?;
    let status = match query.get("status") {
        None => None,
        Some(raw) => {
            let status = status_of(raw);
            if status.is_none() {
                query
                    .errors
                    .add("status", "The selected status is invalid.");
            }
            status
        }
    };
    let paging = PageRequest {
        page: query.integer("page", 1, 1, MAX_PAGE),
        per_page: query.integer_between("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
    };
    query.finish()?;
    let tickets = actors
        .tickets
        .send(WorkTickets::List {
            organization_id: tenant.organization_id,
            status,
            priority: None,
            assignee: None,
            paging,
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
    let clearable = |input: &mut Input<'_>, field: &str, max: usize| {
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

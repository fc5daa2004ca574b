//! Support staff's inbox and a ticket: filters by status, priority and assignee (newest
//! first); a ticket's reason, sentiment, category, end user and webhook delivery; assign,
//! change status, note. The same TicketDesk messages as the JSON API.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{alert, csrf_field, signed_in, Section};
use super::session::Member;
use super::{page, see_other, PageError};
use crate::actors::member_desk::ListMembers;
use crate::actors::ticket_desk::WorkTickets;
use crate::actors::Actors;
use crate::domain::paging::PageRequest;
use crate::domain::ticket::{PRIORITIES, STATUSES};
use crate::http::query::Query;

const PER_PAGE: u64 = 50;

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A filter's value: one of `allowed`, or none.
fn pick(raw: Option<&str>, allowed: &[&str]) -> Option<String> {
    raw.filter(|v| allowed.contains(v)).map(str::to_owned)
}

fn select(id: &str, label: &str, options: &[&str], chosen: Option<&str>, any: &str) -> Markup {
    html! {
        label for=(id) {
            span { (label) }
            select #(id) name=(id) {
                option value="" selected[chosen.is_none()] { (any) }
                @for option in options {
                    option value=(option) selected[chosen == Some(*option)] { (option) }
                }
            }
        }
    }
}

/// The inbox, newest first.
pub(super) async fn inbox(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let query = Query::of(&req).map_err(|_| PageError::NotFound("Unreadable filters.".into()))?;
    let status = pick(query.get("status"), &STATUSES);
    let priority = pick(query.get("priority"), &PRIORITIES);
    let assignee = query
        .get("assignee")
        .map(str::trim)
        .filter(|a| !a.is_empty() && a.chars().count() <= 255 && !a.contains('\0'))
        .map(str::to_owned);
    let page_number = query
        .get("page")
        .and_then(|p| p.parse::<u64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let listed = actors
        .tickets
        .send(WorkTickets::List {
            organization_id: member.view.organization_id,
            status: status.clone(),
            priority: priority.clone(),
            assignee: assignee.clone(),
            paging: PageRequest {
                page: page_number,
                per_page: PER_PAGE,
            },
        })
        .await??;
    let tickets = listed["data"].as_array().cloned().unwrap_or_default();
    let total = listed["meta"]["total"].as_u64().unwrap_or(0);
    let last_page = listed["meta"]["last_page"].as_u64().unwrap_or(1);
    let keep = |page: u64| {
        let mut parts = vec![format!("page={page}")];
        for (key, value) in [
            ("status", &status),
            ("priority", &priority),
            ("assignee", &assignee),
        ] {
            if let Some(value) = value {
                parts.push(format!("{key}={}", urlencode(value)));
            }
        }
        format!("/app/tickets?{}", parts.join("&"))
    };
    let body = html! {
        form.filters method="get" action="/app/tickets" aria-label="Filter tickets" {
            (select("status", "Status", &STATUSES, status.as_deref(), "Any status"))
            (select("priority", "Priority", &PRIORITIES, priority.as_deref(), "Any priority"))
            label for="assignee" {
                span { "Assignee" }
                input #assignee type="text" name="assignee" value=(assignee.clone().unwrap_or_default()) placeholder="email";
            }
            button type="submit" { "Filter" }
            a href={ "/app/tickets?assignee=" (urlencode(&member.view.email)) } { "Mine" }
        }
        p.muted { (total) " tickets" }
        @if tickets.is_empty() {
            p { "No tickets match." }
        } @else {
            div.table-wrap {
                table {
                    caption.muted { "Tickets, newest first" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "Opened" } th scope="col" { "Priority" }
                        th scope="col" { "Status" } th scope="col" { "Reason" } th scope="col" { "End user" }
                        th scope="col" { "Assignee" }
                    } }
                    tbody {
                        @for t in &tickets {
                            tr {
                                td { a href={ "/app/tickets/" (text(&t["id"])) } { "Ticket " (text(&t["id"])) } }
                                td { (short_time(&t["created_at"])) }
                                td { (text(&t["priority"])) }
                                td { (text(&t["status"])) }
                                td { (truncate(&text(&t["reason"]), 120)) }
                                td { (text(&t["user_email"])) }
                                td { (text(&t["assignee"])) }
                            }
                        }
                    }
                }
            }
            nav aria-label="Pages" {
                @if page_number > 1 { a href=(keep(page_number - 1)) { "Newer" } " " }
                span.muted { "Page " (page_number) " of " (last_page) }
                @if page_number < last_page { " " a href=(keep(page_number + 1)) { "Older" } }
            }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Tickets, "Tickets", body),
    ))
}

fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn truncate(raw: &str, max: usize) -> String {
    if raw.chars().count() <= max {
        raw.to_owned()
    } else {
        format!("{}…", raw.chars().take(max).collect::<String>())
    }
}

pub(super) fn short_time(value: &Value) -> String {
    let raw = text(value);
    chrono::DateTime::parse_from_rfc3339(&raw)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or(raw)
}

fn ticket_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| PageError::NotFound(format!("Ticket {raw} not found.")))
}

async fn ticket_page(
    member: &Member,
    actors: &Actors,
    id: i64,
    status: StatusCode,
    message: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let t = actors
        .tickets
        .send(WorkTickets::Get {
            organization_id: member.view.organization_id,
            ticket_id: id,
        })
        .await??;
    let members = actors
        .members
        .send(ListMembers {
            organization_id: member.view.organization_id,
        })
        .await??;
    let assignee = text(&t["assignee"]);
    let mut people: Vec<String> = members.into_iter().map(|m| m.email).collect();
    if !assignee.is_empty() && !people.contains(&assignee) {
        people.push(assignee.clone());
    }
    let delivery = &t["delivery"];
    let action = format!("/app/tickets/{id}");
    let body = html! {
        (alert(message))
        p { a href="/app/tickets" { "Back to the inbox" } }
        dl.facts {
            dt { "Status" } dd #ticket-status { (text(&t["status"])) }
            dt { "Priority" } dd { (text(&t["priority"])) }
            dt { "Reason" } dd #ticket-reason { (text(&t["reason"])) }
            dt { "Sentiment" } dd { (text(&t["sentiment"])) }
            dt { "Category" } dd { (text(&t["category"])) }
            dt { "End user" } dd { (text(&t["user_email"])) @if !t["end_user_id"].is_null() { " (#" (text(&t["end_user_id"])) ")" } }
            dt { "Target" } dd { (text(&t["target_id"])) }
            dt { "Assignee" } dd #ticket-assignee { @if assignee.is_empty() { span.muted { "Unassigned" } } @else { (assignee) } }
            dt { "Note" } dd #ticket-note { (text(&t["note"])) }
            dt { "Opened" } dd { (short_time(&t["created_at"])) }
            dt { "Webhook delivery" }
            dd #ticket-delivery {
                (text(&delivery["status"])) ", " (text(&delivery["attempts"])) " attempts"
                @if !delivery["delivered_at"].is_null() { ", delivered " (short_time(&delivery["delivered_at"])) }
                @if !delivery["last_error"].is_null() { br; span.muted { "Last error: " (text(&delivery["last_error"])) } }
            }
        }
        h2 { "Work the ticket" }
        div.actions {
            form.stack method="post" action=(action) aria-label="Assign" {
                (csrf_field(member))
                input type="hidden" name="action" value="assign";
                label for="assignee" { span { "Assignee" } }
                select #assignee name="assignee" {
                    option value="" selected[assignee.is_empty()] { "Unassigned" }
                    @for person in &people {
                        option value=(person) selected[*person == assignee] { (person) }
                    }
                }
                button type="submit" { "Assign" }
            }
            form.stack method="post" action=(action) aria-label="Change status" {
                (csrf_field(member))
                input type="hidden" name="action" value="status";
                label for="status" { span { "Status" } }
                select #status name="status" {
                    @for s in STATUSES {
                        option value=(s) selected[text(&t["status"]) == s] { (s) }
                    }
                }
                button type="submit" { "Change status" }
            }
            form.stack method="post" action=(action) aria-label="Note" {
                (csrf_field(member))
                input type="hidden" name="action" value="note";
                label for="note" { span { "Note (at most 5000 characters)" } }
                textarea #note name="note" maxlength="5000" { (text(&t["note"])) }
                button type="submit" { "Save note" }
            }
        }
    };
    Ok(page(
        HttpResponse::build(status),
        signed_in(member, Section::Tickets, &format!("Ticket {id}"), body),
    ))
}

/// One ticket.
pub(super) async fn ticket(
    member: Member,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    ticket_page(&member, &actors, ticket_id(&id)?, StatusCode::OK, None).await
}

/// Assign, change status or save the note, then back to the ticket.
pub(super) async fn work(
    member: Member,
    id: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.check_csrf(&form)?;
    let id = ticket_id(&id)?;
    let value = |name: &str| {
        form.get(name)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let clearable = |v: String| if v.is_empty() { None } else { Some(v) };
    let (mut status, mut assignee, mut note) = (None, None, None);
    let problem = match value("action").as_str() {
        "assign" => {
            let who = value("assignee");
            assignee = Some(clearable(who.clone()));
            (who.chars().count() > 255 || who.contains('\0'))
                .then_some("The assignee may not be greater than 255 characters.")
        }
        "status" => {
            status = pick(Some(&value("status")), &STATUSES);
            status
                .is_none()
                .then_some("The selected status is invalid.")
        }
        "note" => {
            let text = value("note");
            note = Some(clearable(text.clone()));
            (text.chars().count() > 5000 || text.contains('\0'))
                .then_some("The note may not be greater than 5000 characters.")
        }
        _ => Some("Choose what to change."),
    };
    if let Some(problem) = problem {
        return ticket_page(
            &member,
            &actors,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(problem),
        )
        .await;
    }
    actors
        .tickets
        .send(WorkTickets::Update {
            organization_id: member.view.organization_id,
            ticket_id: id,
            status,
            assignee,
            note,
        })
        .await??;
    Ok(see_other(&format!("/app/tickets/{id}")))
}

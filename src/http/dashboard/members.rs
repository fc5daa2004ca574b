//! The organization's members (owners only): who they are, and adding one, which answers
//! their one-time link to set a password.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::layout::{alert, csrf_field, signed_in, Section};
use super::session::Member;
use super::{page, PageError};
use crate::actors::member_desk::{AddMember, ListMembers};
use crate::actors::{Actors, Failure};
use crate::domain::member::{Role, ROLES};
use crate::domain::Email;
use crate::http::routes::members::invite_url;

async fn members_page(
    member: &Member,
    actors: &Actors,
    status: StatusCode,
    message: Option<&str>,
    invited: Option<(&str, &str)>,
) -> Result<HttpResponse, PageError> {
    let members = actors
        .members
        .send(ListMembers {
            organization_id: member.view.organization_id,
        })
        .await??;
    let body = html! {
        (alert(message))
        @if let Some((email, link)) = invited {
            div.notice role="status" {
                p { "Added " (email) ". Send them this one-time link to set their password (it is shown only now):" }
                p { code #invite-link { (link) } }
            }
        }
        div.table-wrap { table {
            caption.muted { "Members" }
            thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Password set" } } }
            tbody { @for m in &members { tr {
                td { (m.email) } td { (m.role) } td { @if m.active { "yes" } @else { "not yet" } }
            } } }
        } }
        h2 { "Add a member" }
        form.stack method="post" action="/app/members" {
            (csrf_field(member))
            label for="email" { span { "Email" } }
            input #email type="email" name="email" required autocomplete="off";
            label for="role" { span { "Role" } }
            select #role name="role" {
                option value="support" { "support: tickets, and the overview to read" }
                option value="owner" { "owner: everything" }
            }
            button type="submit" { "Add member" }
        }
    };
    Ok(page(
        HttpResponse::build(status),
        signed_in(member, Section::Members, "Members", body),
    ))
}

/// The members (owners only).
pub(super) async fn list(
    member: Member,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    members_page(&member, &actors, StatusCode::OK, None, None).await
}

/// Adds a member and shows their one-time link (owners only).
pub(super) async fn add(
    member: Member,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let base = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let email = Email::parse(form.get("email").map(String::as_str).unwrap_or(""));
    let role = Role::parse(form.get("role").map(String::as_str).unwrap_or("").trim());
    let (email, role) = match (email, role) {
        (Ok(email), Some(role)) => (email, role),
        (Err(_), _) => {
            let message = "The email field must be a valid email address.";
            return members_page(
                &member,
                &actors,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                None,
            )
            .await;
        }
        (_, None) => {
            let message = format!("The role must be one of: {}.", ROLES.join(", "));
            return members_page(
                &member,
                &actors,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&message),
                None,
            )
            .await;
        }
    };
    let added = actors
        .members
        .send(AddMember {
            organization_id: member.view.organization_id,
            email,
            role,
        })
        .await?;
    match added {
        Ok(invitation) => {
            let link = invite_url(&base, &invitation);
            members_page(
                &member,
                &actors,
                StatusCode::OK,
                None,
                Some((&invitation.member.email, &link)),
            )
            .await
        }
        Err(Failure::Invalid(errors)) => {
            members_page(
                &member,
                &actors,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&errors.summary()),
                None,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

//! The organization's members (owners only): who they are; adding one, which answers their
//! one-time link to set a password; changing a role, removing a member (their sessions end)
//! and a new one-time link for a forgotten password. The same MemberDesk messages as the API,
//! so the last active owner is kept the same way.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::layout::{alert, csrf_field, signed_in, Section};
use super::session::Member;
use super::{page, PageError};
use crate::actors::member_desk::{AddMember, ChangeMember, ListMembers, MemberChange};
use crate::actors::{Actors, Failure};
use crate::domain::member::{Role, ROLES};
use crate::domain::Email;
use crate::http::routes::members::invite_url;

/// The form's role, or the message naming the roles there are.
fn form_role(form: &HashMap<String, String>) -> Result<Role, String> {
    Role::parse(form.get("role").map(String::as_str).unwrap_or("").trim())
        .ok_or_else(|| format!("The role must be one of: {}.", ROLES.join(", ")))
}

/// The members page again, saying why a form was refused (it changed nothing).
async fn refused(
    member: &Member,
    actors: &Actors,
    message: &str,
) -> Result<HttpResponse, PageError> {
    members_page(
        member,
        actors,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some(message),
        None,
    )
    .await
}

async fn members_page(
    member: &Member,
    actors: &Actors,
    status: StatusCode,
    message: Option<&str>,
    notice: Option<Markup>,
) -> Result<HttpResponse, PageError> {
    let members = actors
        .members
        .send(ListMembers {
            organization_id: member.view.organization_id,
        })
        .await??;
    let body = html! {
        (alert(message))
        @if let Some(notice) = notice {
            div.notice role="status" { (notice) }
        }
        div.table-wrap { table #members {
            caption.muted { "Members" }
            thead { tr {
                th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Password set" }
                th scope="col" { "Actions" }
            } }
            tbody { @for m in &members { tr id={ "member-" (m.id) } {
                td { (m.email) } td { (m.role) } td { @if m.active { "yes" } @else { "not yet" } }
                td.row-actions {
                    form method="post" action={ "/app/members/" (m.id) "/role" } {
                        (csrf_field(member))
                        @let other = if m.role().is_owner() { Role::Support } else { Role::Owner };
                        input type="hidden" name="role" value=(other.as_str());
                        button type="submit" aria-label={ "Make " (other.as_str()) ": " (m.email) } {
                            "Make " (other.as_str())
                        }
                    }
                    form method="post" action={ "/app/members/" (m.id) "/reset" } {
                        (csrf_field(member))
                        button type="submit" aria-label={ "New password link for " (m.email) } { "New password link" }
                    }
                    a.button href={ "/app/members/" (m.id) "/remove" } aria-label={ "Remove " (m.email) } { "Remove" }
                }
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
    let (email, role) = match (email, form_role(&form)) {
        (Ok(email), Ok(role)) => (email, role),
        (Err(_), _) => {
            return refused(
                &member,
                &actors,
                "The email field must be a valid email address.",
            )
            .await
        }
        (_, Err(message)) => return refused(&member, &actors, &message).await,
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
            let notice = html! {
                p { "Added " (invitation.member.email) ". Send them this one-time link to set their password (it is shown only now):" }
                p { code #invite-link { (link) } }
            };
            members_page(&member, &actors, StatusCode::OK, None, Some(notice)).await
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

/// Changes a member's role, removes them or gives them a new one-time link (owners only).
/// An owner who removes or resets themselves is signed out with it; one who makes themselves
/// support goes to the overview (this page is no longer theirs).
pub(super) async fn change(
    member: Member,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let (id, action) = path.into_inner();
    let not_found = || PageError::NotFound("No such member.".into());
    let member_id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(not_found)?;
    let change = match action.as_str() {
        "remove" => MemberChange::Remove,
        "reset" => MemberChange::Reset,
        "role" => match form_role(&form) {
            Ok(role) => MemberChange::Role(role),
            Err(message) => return refused(&member, &actors, &message).await,
        },
        _ => return Err(not_found()),
    };
    let changed = actors
        .members
        .send(ChangeMember {
            organization_id: member.view.organization_id,
            member_id,
            change: change.clone(),
        })
        .await?;
    let changed = match changed {
        Ok(changed) => changed,
        Err(Failure::Refused(message)) => {
            return members_page(
                &member,
                &actors,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&message),
                None,
            )
            .await;
        }
        Err(other) => return Err(other.into()),
    };
    let myself = member_id == member.view.id;
    let notice = match (&change, &changed.invitation) {
        _ if myself && matches!(change, MemberChange::Remove | MemberChange::Reset) => {
            return Ok(super::see_other("/app/sign-in"));
        }
        (MemberChange::Role(Role::Support), _) if myself => return Ok(super::see_other("/app")),
        (MemberChange::Reset, Some(invitation)) => {
            let base = {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            };
            let link = invite_url(&base, invitation);
            html! {
                p { "Their old password no longer works and they were signed out. Send "
                    (changed.member.email) " this one-time link to set a new one (it is shown only now):" }
                p { code #invite-link { (link) } }
            }
        }
        (MemberChange::Remove, _) => html! {
            p { "Removed " (changed.member.email) "; their sessions have ended." }
        },
        _ => html! {
            p { (changed.member.email) " is now " (changed.member.role) "." }
        },
    };
    members_page(&member, &actors, StatusCode::OK, None, Some(notice)).await
}

/// Asks before removing a member (a link from the list, so a stray click removes nobody).
pub(super) async fn confirm(
    member: Member,
    path: web::Path<(String, String)>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    let (id, action) = path.into_inner();
    let not_found = || PageError::NotFound("No such member.".into());
    let member_id = id.parse::<i64>().ok().ok_or_else(not_found)?;
    let members = actors
        .members
        .send(ListMembers {
            organization_id: member.view.organization_id,
        })
        .await??;
    let target = members
        .iter()
        .find(|m| m.id == member_id && action == "remove")
        .ok_or_else(not_found)?;
    let body = html! {
        p { "Remove " strong { (target.email) } " (" (target.role) ")? They are signed out at once and can no longer sign in; they can be added again later." }
        form method="post" action={ "/app/members/" (target.id) "/remove" } {
            (csrf_field(&member))
            button type="submit" { "Remove " (target.email) }
            " "
            a href="/app/members" { "Cancel" }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Members, "Remove a member", body),
    ))
}

//! The dashboard's members, managed with the organization's key: an owner (or their backend)
//! adds a member, who gets a one-time link to set a password. Members never see API keys.
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::path_id;
use crate::actors::member_desk::{
    AddMember, ChangeMember, Invitation, ListMembers, MemberChange, MemberView,
};
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::member::Role;
use crate::http::docs::{
    BodyErrors, KeyedErrors, Member, MemberCreate, MemberInvited, MemberList, MemberPatch, Message,
    Unprocessable,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// A member as the API shows them.
pub fn member_json(member: &MemberView) -> serde_json::Value {
    json!({
        "id": member.id,
        "organization_id": member.organization_id,
        "email": member.email,
        "role": member.role,
        "active": member.active,
        "created_at": member.created_at.to_rfc3339(),
    })
}

/// The one-time link of an invitation, on the host the request came to.
pub fn invite_url(base: &str, invitation: &Invitation) -> String {
    format!(
        "{}/app/invite/{}",
        base.trim_end_matches('/'),
        invitation.token
    )
}

/// Adds a member (owner or support) and answers their one-time link to set a password.
#[utoipa::path(post, path = "/api/v1/members", operation_id = "add_member", tag = "members", security(("api_key" = [])),
    request_body = MemberCreate,
    responses((status = 201, description = "Added; `invite_url` is shown this once.", body = MemberInvited),
        BodyErrors, KeyedErrors))]
pub async fn create(
    tenant: Tenant,
    req: HttpRequest,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let email = input.email("email", true);
    let role = input.choice("role", true, Role::parse);
    input.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(ApiError::from(crate::actors::Failure::Refused(
            "The email and role are required.".into(),
        )));
    };
    let invitation = actors
        .members
        .send(AddMember {
            organization_id: tenant.organization_id,
            email,
            role,
        })
        .await??;
    Ok(HttpResponse::Created().json(invited_json(&base_url(&req), &invitation)))
}

/// The link, its expiry and the member, as adding or resetting answers them.
fn invited_json(base: &str, invitation: &Invitation) -> serde_json::Value {
    let mut body = member_json(&invitation.member);
    body["invite_url"] = json!(invite_url(base, invitation));
    body["invite_expires_at"] = json!(invitation.expires_at.to_rfc3339());
    body
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

async fn change(
    actors: &Actors,
    organization_id: i64,
    id: &str,
    change: MemberChange,
) -> Result<crate::actors::member_desk::MemberChanged, ApiError> {
    let changed = actors
        .members
        .send(ChangeMember {
            organization_id,
            member_id: path_id(id, "Member")?,
            change,
        })
        .await??;
    Ok(changed)
}

/// Changes a member's role. The organization's last active owner (one who has set a password)
/// stays an owner.
#[utoipa::path(patch, path = "/api/v1/members/{id}", operation_id = "update_member", tag = "members", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The member id.")),
    request_body = MemberPatch,
    responses((status = 200, description = "The member as they are now.", body = Member),
        (status = 404, description = "No such member in this organization.", body = Message),
        BodyErrors, KeyedErrors))]
pub async fn update(
    tenant: Tenant,
    id: web::Path<String>,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let role = input.choice("role", true, Role::parse);
    input.finish()?;
    let role = role.expect("validated above");
    let changed = change(
        &actors,
        tenant.organization_id,
        &id,
        MemberChange::Role(role),
    )
    .await?;
    Ok(HttpResponse::Ok().json(member_json(&changed.member)))
}

/// Removes a member; their dashboard sessions end at once. The organization's last active
/// owner cannot be removed.
#[utoipa::path(delete, path = "/api/v1/members/{id}", operation_id = "remove_member", tag = "members", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The member id.")),
    responses((status = 200, description = "Removed; the member as they were.", body = Member),
        (status = 404, description = "No such member in this organization.", body = Message),
        (status = 422, description = "The organization's last active owner.", body = Unprocessable),
        KeyedErrors))]
pub async fn remove(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let changed = change(&actors, tenant.organization_id, &id, MemberChange::Remove).await?;
    Ok(HttpResponse::Ok().json(member_json(&changed.member)))
}

/// A new one-time link to set the member's password (a forgotten password, or one to be
/// replaced): their old password stops working and their sessions end now.
#[utoipa::path(post, path = "/api/v1/members/{id}/reset", operation_id = "reset_member_password", tag = "members", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The member id.")),
    responses((status = 200, description = "The new link; `invite_url` is shown this once.", body = MemberInvited),
        (status = 404, description = "No such member in this organization.", body = Message),
        KeyedErrors))]
pub async fn reset(
    tenant: Tenant,
    req: HttpRequest,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let changed = change(&actors, tenant.organization_id, &id, MemberChange::Reset).await?;
    let invitation = changed
        .invitation
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("a reset answered no link")))?;
    Ok(HttpResponse::Ok().json(invited_json(&base_url(&req), &invitation)))
}

/// The organization's members, oldest first.
#[utoipa::path(get, path = "/api/v1/members", operation_id = "list_members", tag = "members", security(("api_key" = [])),
    responses((status = 200, description = "Oldest first.", body = MemberList), KeyedErrors))]
pub async fn list(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let members = actors
        .members
        .send(ListMembers {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({
        "data": members.iter().map(member_json).collect::<Vec<_>>(),
    })))
}

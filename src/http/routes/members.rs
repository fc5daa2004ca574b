//! The dashboard's members, managed with the organization's key: an owner (or their backend)
//! adds a member, who gets a one-time link to set a password. Members never see API keys.
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::actors::member_desk::{AddMember, Invitation, ListMembers, MemberView};
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::member::Role;
use crate::http::docs::{BodyErrors, KeyedErrors, MemberCreate, MemberInvited, MemberList};
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
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    let mut body = member_json(&invitation.member);
    body["invite_url"] = json!(invite_url(&base, &invitation));
    body["invite_expires_at"] = json!(invitation.expires_at.to_rfc3339());
    Ok(HttpResponse::Created().json(body))
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

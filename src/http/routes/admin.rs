//! The operator API: the queue, dead jobs, organizations and keys. Every handler requires the
//! operator's bearer token (`Operator`); none accepts an organization key.
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::path_id;
use crate::actors::admin_desk::{
    CreateKey, CreateOrganization, DeadJobAction, DeadJobs, ListOrganizations, QueueFigures,
    RevokeKey, SettleDeadJob,
};
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::http::auth::Operator;
use crate::http::docs::{
    AdminErrors, BodyErrors, CreateOrganizationRequest, CreatedKey, CreatedOrganization,
    DeadJobPage, JobSettled, KeyRevoked, OrganizationPage, QueueStats,
};
use crate::http::errors::ApiError;
use crate::http::extract::JsonObject;
use crate::http::query::Query;

/// Queue figures per job kind and in total (the same as `saveloops queue stats`).
#[utoipa::path(get, path = "/api/v1/admin/queue", tag = "operator",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "Read from the queue now.", body = QueueStats), AdminErrors))]
pub async fn queue(_: Operator, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let stats = actors
        .admin
        .send(QueueFigures {
            max_age: std::time::Duration::ZERO,
        })
        .await??;
    Ok(HttpResponse::Ok().json(stats))
}

/// Dead jobs, most recently died first, each with its organization, attempts and last error.
#[utoipa::path(get, path = "/api/v1/admin/queue/dead", tag = "operator",
    security(("admin_bearer" = [])),
    params(
        ("page" = Option<u64>, Query, minimum = 1, maximum = 1_000_000, description = "From 1 (default 1)."),
        ("per_page" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Default 50."),
    ),
    responses(
        (status = 200, description = "A page of dead jobs.", body = DeadJobPage),
        (status = 400, description = "The query string could not be read.", body = crate::http::docs::Message),
        (status = 422, description = "Invalid paging.", body = crate::http::docs::Unprocessable),
        AdminErrors,
    ))]
pub async fn dead_jobs(
    _: Operator,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::of(&req)?;
    let page = query.page();
    query.finish()?;
    let page = actors.admin.send(DeadJobs(page)).await??;
    Ok(HttpResponse::Ok().json(page))
}

/// Brings a dead job back: due now, attempts reset; its application goes back to `retrying`.
#[utoipa::path(post, path = "/api/v1/admin/queue/dead/{id}/retry", tag = "operator",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "The job id, e.g. `apply_offer:7`.")),
    responses((status = 200, description = "Revived.", body = JobSettled), AdminErrors))]
pub async fn retry_dead_job(
    _: Operator,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    actors
        .admin
        .send(SettleDeadJob {
            id: id.clone(),
            action: DeadJobAction::Retry,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "The job is due again.", "id": id})))
}

/// Deletes a dead job for good; its application is marked `failed` with a note.
#[utoipa::path(delete, path = "/api/v1/admin/queue/dead/{id}", tag = "operator",
    security(("admin_bearer" = [])),
    params(("id" = String, Path, description = "The job id, e.g. `apply_offer:7`.")),
    responses((status = 200, description = "Deleted.", body = JobSettled), AdminErrors))]
pub async fn delete_dead_job(
    _: Operator,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    actors
        .admin
        .send(SettleDeadJob {
            id: id.clone(),
            action: DeadJobAction::Discard,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "The job was deleted.", "id": id})))
}

/// Organizations, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/organizations", tag = "operator",
    security(("admin_bearer" = [])),
    params(
        ("page" = Option<u64>, Query, minimum = 1, maximum = 1_000_000, description = "From 1 (default 1)."),
        ("per_page" = Option<u64>, Query, minimum = 1, maximum = 500, description = "Default 50."),
    ),
    responses(
        (status = 200, description = "A page of organizations.", body = OrganizationPage),
        (status = 400, description = "The query string could not be read.", body = crate::http::docs::Message),
        (status = 422, description = "Invalid paging.", body = crate::http::docs::Unprocessable),
        AdminErrors,
    ))]
pub async fn organizations(
    _: Operator,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::of(&req)?;
    let page = query.page();
    query.finish()?;
    let page = actors.admin.send(ListOrganizations(page)).await??;
    Ok(HttpResponse::Ok().json(page))
}

/// Creates an organization and its first API key (shown this once).
#[utoipa::path(post, path = "/api/v1/admin/organizations", tag = "operator",
    security(("admin_bearer" = [])),
    request_body = CreateOrganizationRequest,
    responses((status = 201, description = "Created.", body = CreatedOrganization), BodyErrors, AdminErrors))]
pub async fn create_organization(
    _: Operator,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let name = input.string("name", true, 255);
    input.finish()?;
    let created = actors
        .admin
        .send(CreateOrganization {
            name: name.expect("validated above"),
        })
        .await??;
    Ok(HttpResponse::Created().json(created))
}

/// Creates another API key for an organization (shown this once).
#[utoipa::path(post, path = "/api/v1/admin/organizations/{id}/keys", tag = "operator",
    security(("admin_bearer" = [])),
    params(("id" = i64, Path, description = "The organization id.")),
    responses((status = 201, description = "Created.", body = CreatedKey), AdminErrors))]
pub async fn create_key(
    _: Operator,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let organization_id = path_id(&id, "Organization")?;
    let created = actors.admin.send(CreateKey { organization_id }).await??;
    Ok(HttpResponse::Created().json(created))
}

/// Revokes a key by its prefix (`slk_…`). This instance refuses it at once; other instances
/// within `cache.ttl_seconds`.
#[utoipa::path(delete, path = "/api/v1/admin/keys/{prefix}", tag = "operator",
    security(("admin_bearer" = [])),
    params(("prefix" = String, Path, description = "The key's prefix, `slk_` and 12 characters.")),
    responses((status = 200, description = "Revoked.", body = KeyRevoked), AdminErrors))]
pub async fn revoke_key(
    _: Operator,
    prefix: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let prefix = prefix.into_inner();
    actors
        .admin
        .send(RevokeKey {
            prefix: prefix.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "The key was revoked.", "revoked": prefix})))
}

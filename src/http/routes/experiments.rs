//! Experiments, managed by the organization with its own key.
use actix_web::{web, HttpResponse};

use super::path_id;
use crate::actors::offer_selector::ManageExperiments;
use crate::actors::Actors;
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

#[tracing::instrument(name = "experiments_list", skip_all, fields(org = tenant.organization_id))]
pub async fn list(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let experiments = actors
        .offers
        .send(ManageExperiments::List {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(experiments))
}

#[tracing::instrument(name = "experiments_create", skip_all, fields(org = tenant.organization_id))]
pub async fn create(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let experiment = actors
        .offers
        .send(ManageExperiments::Create {
            organization_id: tenant.organization_id,
            body,
        })
        .await??;
    Ok(HttpResponse::Created().json(experiment))
}

#[tracing::instrument(name = "experiments_get", skip_all, fields(org = tenant.organization_id))]
pub async fn get(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let experiment = actors
        .offers
        .send(ManageExperiments::Get {
            organization_id: tenant.organization_id,
            experiment_id: path_id(&id, "Experiment")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(experiment))
}

#[tracing::instrument(name = "experiments_update", skip_all, fields(org = tenant.organization_id))]
pub async fn update(
    tenant: Tenant,
    id: web::Path<String>,
    JsonObject(patch): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let experiment = actors
        .offers
        .send(ManageExperiments::Update {
            organization_id: tenant.organization_id,
            experiment_id: path_id(&id, "Experiment")?,
            patch,
        })
        .await??;
    Ok(HttpResponse::Ok().json(experiment))
}

#[tracing::instrument(name = "experiments_results", skip_all, fields(org = tenant.organization_id))]
pub async fn results(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let results = actors
        .offers
        .send(ManageExperiments::Results {
            organization_id: tenant.organization_id,
            experiment_id: path_id(&id, "Experiment")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(results))
}

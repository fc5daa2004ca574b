//! Experiments, managed by the organization with its own key.
use actix_web::{web, HttpResponse};

use super::path_id;
use crate::actors::offer_selector::ManageExperiments;
use crate::actors::Actors;
use crate::http::docs::{
    BodyErrors, Experiment, ExperimentCreate, ExperimentList, ExperimentPatch, ExperimentResults,
    KeyedErrors, Message,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// The organization's experiments.
#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", operation_id = "list_experiments", security(("api_key" = [])),
    responses((status = 200, description = "Every experiment.", body = ExperimentList), KeyedErrors))]
pub async fn list(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let experiments = actors
        .offers
        .send(ManageExperiments::List {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(experiments))
}

/// Creates an experiment (a draft unless `status` says otherwise).
#[utoipa::path(post, path = "/api/v1/experiments", tag = "experiments", operation_id = "create_experiment", security(("api_key" = [])),
    request_body = ExperimentCreate,
    responses((status = 201, description = "Created.", body = Experiment), BodyErrors, KeyedErrors))]
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

/// One experiment.
#[utoipa::path(get, path = "/api/v1/experiments/{id}", tag = "experiments", operation_id = "get_experiment", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The experiment id.")),
    responses((status = 200, description = "The experiment.", body = Experiment), (status = 404, description = "No such experiment for this organization.", body = Message), KeyedErrors))]
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

/// Changes an experiment.
#[utoipa::path(patch, path = "/api/v1/experiments/{id}", tag = "experiments", operation_id = "update_experiment", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The experiment id.")),
    request_body = ExperimentPatch,
    responses((status = 200, description = "The changed experiment.", body = Experiment), (status = 404, description = "No such experiment for this organization.", body = Message), BodyErrors, KeyedErrors))]
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

/// Results per arm and the verdict.
#[utoipa::path(get, path = "/api/v1/experiments/{id}/results", tag = "experiments", operation_id = "experiment_results", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The experiment id.")),
    responses((status = 200, description = "The results.", body = ExperimentResults), (status = 404, description = "No such experiment for this organization.", body = Message), KeyedErrors))]
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

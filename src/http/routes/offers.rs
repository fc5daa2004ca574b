//! Offers, managed by the organization with its own key.
use actix_web::{web, HttpResponse};

use super::path_id;
use crate::actors::offer_selector::ManageOffers;
use crate::actors::Actors;
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

pub async fn list(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let offers = actors
        .offers
        .send(ManageOffers::List {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(offers))
}

pub async fn create(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let offer = actors
        .offers
        .send(ManageOffers::Create {
            organization_id: tenant.organization_id,
            body,
        })
        .await??;
    Ok(HttpResponse::Created().json(offer))
}

pub async fn get(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let offer = actors
        .offers
        .send(ManageOffers::Get {
            organization_id: tenant.organization_id,
            offer_id: path_id(&id, "Offer")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(offer))
}

pub async fn update(
    tenant: Tenant,
    id: web::Path<String>,
    JsonObject(patch): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let offer = actors
        .offers
        .send(ManageOffers::Update {
            organization_id: tenant.organization_id,
            offer_id: path_id(&id, "Offer")?,
            patch,
        })
        .await??;
    Ok(HttpResponse::Ok().json(offer))
}

pub async fn delete(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let outcome = actors
        .offers
        .send(ManageOffers::Delete {
            organization_id: tenant.organization_id,
            offer_id: path_id(&id, "Offer")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(outcome))
}

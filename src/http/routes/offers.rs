//! Offers, managed by the organization with its own key.
use actix_web::{web, HttpResponse};

use super::path_id;
use crate::actors::offer_selector::ManageOffers;
use crate::actors::Actors;
use crate::domain::offer_draft::parse_offer;
use crate::http::docs::{
    BodyErrors, KeyedErrors, Message, Offer, OfferCreate, OfferDeleted, OfferList, OfferPatch,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// The organization's offers.
#[utoipa::path(get, path = "/api/v1/offers", operation_id = "list_offers", tag = "offers", security(("api_key" = [])),
    responses((status = 200, description = "Every offer, active or not.", body = OfferList), KeyedErrors))]
pub async fn list(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let offers = actors
        .offers
        .send(ManageOffers::List {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(offers))
}

/// Creates an offer.
#[utoipa::path(post, path = "/api/v1/offers", operation_id = "create_offer", tag = "offers", security(("api_key" = [])),
    request_body = OfferCreate,
    responses((status = 201, description = "Created.", body = Offer), BodyErrors, KeyedErrors))]
pub async fn create(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let offer = actors
        .offers
        .send(ManageOffers::Create {
            organization_id: tenant.organization_id,
            draft: parse_offer(&body)?,
        })
        .await??;
    Ok(HttpResponse::Created().json(offer))
}

/// One offer.
#[utoipa::path(get, path = "/api/v1/offers/{id}", operation_id = "get_offer", tag = "offers", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The offer id.")),
    responses((status = 200, description = "The offer.", body = Offer), (status = 404, description = "No such offer for this organization.", body = Message), KeyedErrors))]
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

/// Changes the fields named; `null` clears one. The result must still be a valid offer.
#[utoipa::path(patch, path = "/api/v1/offers/{id}", operation_id = "update_offer", tag = "offers", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The offer id.")),
    request_body = OfferPatch,
    responses((status = 200, description = "The changed offer.", body = Offer), (status = 404, description = "No such offer for this organization.", body = Message), BodyErrors, KeyedErrors))]
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

/// Deletes an offer without history; one with outcomes or applications is deactivated.
#[utoipa::path(delete, path = "/api/v1/offers/{id}", operation_id = "delete_offer", tag = "offers", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The offer id.")),
    responses((status = 200, description = "Deleted or deactivated.", body = OfferDeleted), (status = 404, description = "No such offer for this organization.", body = Message), KeyedErrors))]
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

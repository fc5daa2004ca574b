//! The organization's own settings (eligibility and experiment defaults), with its own key.
use actix_web::{web, HttpResponse};

use crate::actors::offer_selector::ManageSettings;
use crate::actors::Actors;
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

pub async fn get(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let settings = actors
        .offers
        .send(ManageSettings::Get {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(settings))
}

#[tracing::instrument(name = "settings_update", skip_all, fields(org = tenant.organization_id))]
pub async fn update(
    tenant: Tenant,
    JsonObject(patch): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let settings = actors
        .offers
        .send(ManageSettings::Update {
            organization_id: tenant.organization_id,
            patch,
        })
        .await??;
    Ok(HttpResponse::Ok().json(settings))
}

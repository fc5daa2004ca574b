//! The organization's own settings (eligibility and experiment defaults, allowed origins),
//! with its own key.
use actix_web::{web, HttpResponse};

use crate::actors::offer_selector::ManageSettings;
use crate::actors::Actors;
use crate::http::docs::{BodyErrors, KeyedErrors, OrganizationSettings, SettingsPatch};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// The organization's eligibility rules, experiment defaults and allowed browser origins.
#[utoipa::path(get, path = "/api/v1/settings", tag = "offers", operation_id = "get_settings", security(("api_key" = [])),
    responses((status = 200, description = "The settings.", body = OrganizationSettings), KeyedErrors))]
pub async fn get(tenant: Tenant, actors: web::Data<Actors>) -> Result<HttpResponse, ApiError> {
    let settings = actors
        .offers
        .send(ManageSettings::Get {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(settings))
}

/// Changes the fields named; the result is validated as a whole.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "offers", operation_id = "update_settings", security(("api_key" = [])),
    request_body = SettingsPatch,
    responses((status = 200, description = "The settings.", body = OrganizationSettings), BodyErrors, KeyedErrors))]
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

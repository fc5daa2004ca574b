//! The card-update page: when the intercept says `show_update_card`, the cancel flow asks for a
//! Stripe billing-portal session at its payment-method flow and sends the end user there.
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::actors::offer_selector::OriginAllowed;
use crate::actors::stripe_applier::OpenCardUpdate;
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::origin::origin_of_url;
use crate::domain::validation::ValidationErrors;
use crate::http::docs::{
    BodyErrors, CancelFlowErrors, CardUpdatePage, CardUpdateRequest, KeyedErrors,
};
use crate::http::errors::ApiError;
use crate::http::extract::JsonObject;
use crate::http::session::{check_claims, Caller, Claimed};

/// Longest return URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Opens Stripe's page where the end user updates their card, and answers its address.
#[utoipa::path(post, path = "/api/v1/intercept/update-card", tag = "cancel flow", security(("api_key" = []), ("session" = [])),
    request_body = CardUpdateRequest,
    responses((status = 200, description = "Stripe's page (short-lived): send the end user there.", body = CardUpdatePage), BodyErrors, CancelFlowErrors, KeyedErrors))]
pub async fn update_card(
    caller: Caller,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let customer = input.string("stripe_customer_id", false, 255);
    let return_url = input.string("return_url", false, MAX_URL_LEN);
    input.finish()?;
    let return_origin = match &return_url {
        Some(url) => Some(origin_of_url(url).map_err(|problem| {
            ApiError::Validation(ValidationErrors::single(
                "return_url",
                format!("The return url field {}.", problem.rule()),
            ))
        })?),
        None => None,
    };
    let organization_id = caller.organization_id();
    let customer = match caller.session() {
        None => customer.ok_or_else(|| {
            ApiError::Validation(ValidationErrors::single(
                "stripe_customer_id",
                "The stripe customer id field is required.",
            ))
        })?,
        Some(session) => {
            check_claims(
                session,
                &Claimed {
                    email: None,
                    stripe_customer_id: customer.as_deref(),
                    stripe_subscription_id: None,
                    mrr: None,
                },
            )?;
            let own = session.stripe_customer_id.clone().ok_or_else(|| {
                ApiError::Forbidden(
                    "This session names no Stripe customer: sign stripe_customer_id into its token to let its end user update their card.".into(),
                )
            })?;
            // A browser is sent back only to the organization's own pages.
            if let Some(origin) = return_origin {
                let allowed = actors
                    .offers
                    .send(OriginAllowed {
                        organization_id,
                        origin,
                    })
                    .await??;
                if !allowed {
                    return Err(ApiError::Validation(ValidationErrors::single(
                        "return_url",
                        "The return url field must be on one of the organization's allowed origins.",
                    )));
                }
            }
            own
        }
    };
    let url = actors
        .stripe
        .send(OpenCardUpdate {
            organization_id,
            stripe_customer_id: customer,
            return_url,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "url": url })))
}

//! Payment health: dunning (a failed payment) and success signals.
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::actors::dunning_tracker::{RecordPaymentFailure, RecordSuccess};
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::EndUserRef;
use crate::http::docs::{
    BodyErrors, DunningRequest, KeyedErrors, Message, SuccessRecorded, SuccessSignalRequest,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// Both endpoints name the end user by email and/or Stripe customer id (one is required).
fn end_user(input: &mut Input<'_>) -> Option<EndUserRef> {
    input.require_one_of("user_email", "stripe_customer_id");
    let email = input.email("user_email", false);
    let customer = input.string("stripe_customer_id", false, 255);
    EndUserRef::new(email, customer)
}

/// Flags the end user for a card update after a failed payment.
#[utoipa::path(post, path = "/api/v1/dunning", tag = "payment health", security(("api_key" = [])),
    request_body = DunningRequest,
    responses((status = 200, description = "Recorded.", body = Message), BodyErrors, KeyedErrors))]
pub async fn dunning(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let who = end_user(&mut input);
    input.finish()?;
    let who = who.expect("validated above");
    actors
        .dunning
        .send(RecordPaymentFailure {
            stripe_event: None,
            organization_id: tenant.organization_id,
            who,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "Recorded"})))
}

/// Records a positive event; a payment event also clears the dunning flag.
#[utoipa::path(post, path = "/api/v1/success-signal", tag = "payment health", security(("api_key" = [])),
    request_body = SuccessSignalRequest,
    responses((status = 200, description = "Recorded.", body = SuccessRecorded), BodyErrors, KeyedErrors))]
pub async fn success_signal(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let event = input.string("event", true, 64);
    let who = end_user(&mut input);
    input.finish()?;
    let (Some(event), Some(who)) = (event, who) else {
        unreachable!("validated above")
    };
    let end_user_id = actors
        .dunning
        .send(RecordSuccess {
            stripe_event: None,
            organization_id: tenant.organization_id,
            who,
            event,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "Recorded", "end_user_id": end_user_id})))
}

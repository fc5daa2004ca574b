//! The cancel flow: intercept and outcome.
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::actors::offer_selector::{Intercept, RecordOutcome};
use crate::actors::outcome_recorder::OutcomeStatus;
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::{EndUserRef, Trigger};
use crate::http::docs::{
    BodyErrors, CancelFlowErrors, InterceptRequest, InterceptResponse, KeyedErrors, Message,
    OutcomeRequest,
};
use crate::http::errors::ApiError;
use crate::http::extract::JsonObject;
use crate::http::session::{check_claims, remember_shown, require_shown, Caller, Claimed};

/// Optional identifiers have a length limit too: no unbounded strings reach the database.
const MAX_ID_LEN: usize = 255;

/// Offers and flags for the current context (e.g. the cancel button). Records an impression.
#[utoipa::path(post, path = "/api/v1/intercept", tag = "cancel flow", security(("api_key" = []), ("session" = [])),
    request_body = InterceptRequest,
    responses((status = 200, description = "The offers that fit, highest priority first.", body = InterceptResponse), BodyErrors, CancelFlowErrors, KeyedErrors))]
pub async fn intercept(
    caller: Caller,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let target_id = input.string("target_id", true, 255);
    let email = input.email("user_email", false);
    let trigger = input.choice("trigger", false, Trigger::parse);
    let customer = input.string("stripe_customer_id", false, MAX_ID_LEN);
    let subscription = input.string("stripe_subscription_id", false, MAX_ID_LEN);
    let mrr = input.mrr("mrr_value", false);
    input.finish()?;
    // A session's end user, subscription and MRR are the token's.
    let (email, customer, subscription, mrr) = match caller.session() {
        None => (email, customer, subscription, mrr),
        Some(session) => {
            check_claims(
                session,
                &Claimed {
                    email: email.as_ref(),
                    stripe_customer_id: customer.as_deref(),
                    stripe_subscription_id: subscription.as_deref(),
                    mrr,
                },
            )?;
            (
                session.email.clone(),
                session.stripe_customer_id.clone(),
                session.stripe_subscription_id.clone(),
                session.mrr,
            )
        }
    };
    let subscription_known = subscription.is_some() || customer.is_some();
    let organization_id = caller.organization_id();
    let answer = actors
        .offers
        .send(Intercept {
            organization_id,
            target_id: target_id.unwrap_or_default(),
            trigger,
            mrr,
            who: EndUserRef::new(email, customer),
            subscription_known,
        })
        .await??;
    if let Some(session) = caller.session() {
        remember_shown(&actors, organization_id, session, &answer.offers);
    }
    // The offers arrive as JSON text (rendered once per catalog load): the body is written
    // around them rather than rebuilt as values.
    let body = format!(
        r#"{{"offers":{},"show_update_card":{},"show_onboarding_prompt":{}}}"#,
        answer.offers, answer.show_update_card, answer.show_onboarding_prompt
    );
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

/// Records whether the end user saved (accepted an offer) or abandoned.
#[utoipa::path(post, path = "/api/v1/intercept/outcome", tag = "cancel flow", security(("api_key" = []), ("session" = [])),
    request_body = OutcomeRequest,
    responses((status = 200, description = "Recorded.", body = Message), BodyErrors, CancelFlowErrors, KeyedErrors))]
pub async fn outcome(
    caller: Caller,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let offer_id = input.integer("offer_id", true);
    let status = input.choice("status", true, OutcomeStatus::parse);
    let email = input.email("user_email", false);
    let mrr = input.mrr("mrr_value", false);
    input.finish()?;
    let (Some(offer_id), Some(status)) = (offer_id, status) else {
        unreachable!("validated above")
    };
    let (who, mrr) = match caller.session() {
        None => (EndUserRef::new(email, None), mrr),
        Some(session) => {
            check_claims(
                session,
                &Claimed {
                    email: email.as_ref(),
                    mrr,
                    ..Claimed::default()
                },
            )?;
            require_shown(&actors, session, offer_id).await?;
            (Some(session.end_user()), session.mrr)
        }
    };
    actors
        .offers
        .send(RecordOutcome {
            organization_id: caller.organization_id(),
            offer_id,
            status,
            who,
            mrr,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": "Recorded"})))
}

//! Applying an accepted offer to Stripe, and following up on queued applications.
use actix_web::{web, HttpResponse};
use serde_json::json;

use super::path_id;
use crate::actors::session_desk::SessionOffer;
use crate::actors::stripe_applier::{ApplyAnswer, ApplyOffer, GetApplication};
use crate::actors::Actors;
use crate::config::Settings;
use crate::domain::fields::Input;
use crate::domain::EndUserRef;
use crate::http::docs::{
    Application, ApplicationQueued, ApplyOfferRequest, BodyErrors, CancelFlowErrors, KeyedErrors,
    Message,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};
use crate::http::session::{check_claims, require_shown, Caller, Claimed};

/// Applies the accepted offer to the Stripe subscription; a transient Stripe failure queues
/// it for retries (202).
#[utoipa::path(post, path = "/api/v1/intercept/apply-offer", tag = "cancel flow", security(("api_key" = []), ("session" = [])),
    request_body = ApplyOfferRequest,
    responses(
        (status = 200, description = "Stripe took the change.", body = Message),
        (status = 202, description = "Stripe failed transiently; queued for retries.", body = ApplicationQueued),
        BodyErrors, CancelFlowErrors, KeyedErrors,
    ))]
pub async fn apply_offer(
    caller: Caller,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, ApiError> {
    let session = caller.session();
    let mut input = Input::new(&body);
    let offer_id = input.integer("offer_id", true);
    // A session's subscription is the token's: the body may leave it out.
    let subscription = input.string("stripe_subscription_id", session.is_none(), 255);
    let email = input.email("user_email", false);
    let mrr = input.mrr("mrr_value", false);
    input.finish()?;
    let Some(offer_id) = offer_id else {
        unreachable!("validated above")
    };
    let Some(session) = session else {
        let subscription = subscription.expect("validated above");
        let request = ApplyOffer {
            organization_id: caller.organization_id(),
            offer_id,
            stripe_subscription_id: subscription,
            who: EndUserRef::new(email, None),
            mrr,
        };
        let answer = actors.stripe.send(request).await??;
        return answered(answer, &settings);
    };
    check_claims(
        session,
        &Claimed {
            email: email.as_ref(),
            stripe_subscription_id: subscription.as_deref(),
            mrr,
            ..Claimed::default()
        },
    )?;
    let subscription = session.stripe_subscription_id.clone().ok_or_else(|| {
        ApiError::Forbidden("The session names no subscription to apply an offer to.".into())
    })?;
    require_shown(&actors, session, offer_id).await?;
    let claim = |organization_id| SessionOffer::Claim {
        organization_id,
        session_id: session.id.clone(),
        offer_id,
        expires_at: session.expires_at,
    };
    if !actors
        .sessions
        .send(claim(caller.organization_id()))
        .await??
    {
        return Err(ApiError::Forbidden(
            "This session has already applied another offer.".into(),
        ));
    }
    let request = ApplyOffer {
        organization_id: caller.organization_id(),
        offer_id,
        stripe_subscription_id: subscription,
        who: Some(session.end_user()),
        mrr: session.mrr,
    };
    let answer = actors.stripe.send(request).await?.map_err(ApiError::from);
    // What changed nothing gives the session's one application back.
    let changed_nothing = match &answer {
        Ok(ApplyAnswer::Refused { .. }) => true,
        Err(error) => matches!(
            error,
            ApiError::Validation(_) | ApiError::NotFound(_) | ApiError::Unprocessable { .. }
        ),
        Ok(_) => false,
    };
    if changed_nothing {
        actors
            .sessions
            .send(SessionOffer::Release {
                session_id: session.id.clone(),
                offer_id,
            })
            .await??;
    }
    answered(answer?, &settings)
}

fn answered(answer: ApplyAnswer, settings: &Settings) -> Result<HttpResponse, ApiError> {
    Ok(match answer {
        ApplyAnswer::Applied => {
            HttpResponse::Ok().json(json!({"message": "Offer applied successfully."}))
        }
        ApplyAnswer::Queued { application_id } => HttpResponse::Accepted().json(json!({
            "message": "Stripe could not be reached; the offer will be applied automatically. Follow it at /api/v1/intercept/applications/{id}.".replace("{id}", &application_id.to_string()),
            "application_id": application_id,
        })),
        ApplyAnswer::Refused {
            message,
            stripe_error,
        } => {
            return Err(ApiError::Unprocessable {
                message,
                detail: stripe_error.filter(|_| settings.debug),
            })
        }
    })
}

/// A queued offer application and its progress.
#[utoipa::path(get, path = "/api/v1/intercept/applications/{id}", tag = "cancel flow", security(("api_key" = [])),
    params(("id" = i64, Path, description = "The application id.")),
    responses(
        (status = 200, description = "The application.", body = Application),
        (status = 404, description = "No such application for this organization.", body = Message),
        KeyedErrors,
    ))]
pub async fn application(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let application = actors
        .stripe
        .send(GetApplication {
            organization_id: tenant.organization_id,
            application_id: path_id(&id, "Application")?,
        })
        .await??;
    Ok(HttpResponse::Ok().json(application))
}

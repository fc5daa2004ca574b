//! Reading a cancellation reason: the suggested save action, matching offers, and a ticket
//! when a human is needed.
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::actors::sentiment_analyzer::AnalyzeReason;
use crate::actors::Actors;
use crate::domain::fields::Input;
use crate::domain::EndUserRef;
use crate::http::docs::{
    BodyErrors, CancelFlowErrors, KeyedErrors, SentimentRequest, SentimentResponse,
};
use crate::http::errors::ApiError;
use crate::http::extract::JsonObject;
use crate::http::session::{check_claims, remember_shown, Caller, Claimed};

/// Reads a cancellation reason: the suggested save action, matching offers, and a support
/// ticket when the reason calls for a human.
#[utoipa::path(post, path = "/api/v1/intercept/sentiment", tag = "cancel flow", security(("api_key" = []), ("session" = [])),
    request_body = SentimentRequest,
    responses((status = 200, description = "The suggested action.", body = SentimentResponse), BodyErrors, CancelFlowErrors, KeyedErrors))]
pub async fn sentiment(
    caller: Caller,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(&body);
    let reason = input.string("reason", true, 2000);
    let email = input.email("user_email", false);
    let target_id = input.string("target_id", false, 255);
    input.finish()?;
    let reason = reason.expect("validated above");
    let who = match caller.session() {
        None => EndUserRef::new(email, None),
        Some(session) => {
            check_claims(
                session,
                &Claimed {
                    email: email.as_ref(),
                    ..Claimed::default()
                },
            )?;
            Some(session.end_user())
        }
    };
    let organization_id = caller.organization_id();
    let reading = actors.reasons.read(&reason).await?;
    let answer = actors
        .sentiment
        .send(AnalyzeReason {
            organization_id,
            reason,
            reading,
            who,
            target_id,
        })
        .await??;
    if let Some(session) = caller.session() {
        remember_shown(&actors, organization_id, session, &answer.offers);
    }
    // Probabilities are rounded for display; the model's own values are kept in storage.
    let round = |x: f64| json!((x * 1000.0).round() / 1000.0);
    // The offers arrive as JSON text (as intercept's do): the body is written around them.
    let body = format!(
        r#"{{"suggested_action":"{}","confidence":{},"offers":{},"create_support_ticket":{},"category":{},"language":"{}","sentiment":{},"ticket_id":{}}}"#,
        answer.suggested_action.as_str(),
        round(answer.confidence),
        answer.offers,
        answer.ticket_id.is_some(),
        Value::String(answer.category),
        answer.language.code(),
        round(answer.sentiment),
        json!(answer.ticket_id),
    );
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

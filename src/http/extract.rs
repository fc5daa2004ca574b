//! Request extractors: the authenticated organization and the JSON object body.
use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde_json::{Map, Value};

use super::errors::ApiError;
use super::rate_limit::{retry_after_seconds, RateLimiter, Verdict};
use crate::actors::key_verifier::Authenticate;
use crate::actors::Actors;
use crate::domain::ApiKey;

pub const KEY_HEADER: &str = "X-Knot-Key";

/// The organization whose key authenticated the request. Everything a request reads or
/// writes is scoped to it.
#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    pub organization_id: i64,
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Tenant, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = req
            .headers()
            .get(KEY_HEADER)
            .map(|v| v.to_str().map(str::to_owned));
        let actors = req.app_data::<web::Data<Actors>>().cloned();
        let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
        let session_token = super::session::bearer_token(req).is_some();
        let req = req.clone();
        Box::pin(async move {
            let raw = match presented {
                None if session_token => return Err(ApiError::Unauthorized(
                    "A session token is accepted only by intercept, outcome, apply-offer and sentiment.",
                )),
                None => return Err(ApiError::Unauthorized("Unauthenticated.")),
                Some(Err(_)) => return Err(ApiError::Unauthorized("Invalid API key.")),
                Some(Ok(raw)) => raw,
            };
            let key = ApiKey::parse(&raw).ok_or(ApiError::Unauthorized("Invalid API key."))?;
            let actors = actors
                .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("actors not configured")))?;
            let known = actors.known_keys.verdict(&key);
            let answer = match known {
                Some(answer) => answer,
                None => actors.keys.send(Authenticate(key.clone())).await??,
            };
            let Some(organization_id) = answer else {
                return Err(ApiError::Unauthorized("Invalid API key."));
            };
            // Per key, after authentication: unknown keys cannot fill the buckets.
            if let Some(limiter) = limiter {
                if let Verdict::Limited(wait) = limiter.check(key.prefix()).await {
                    let route = req.match_pattern();
                    crate::metrics::rate_limited(route.as_deref().unwrap_or("unmatched"));
                    return Err(ApiError::TooManyRequests(retry_after_seconds(wait)));
                }
            }
            tracing::Span::current().record("org", organization_id);
            Ok(Tenant { organization_id })
        })
    }
}

/// A JSON request body that must be an object. Content type, size and syntax errors come
/// from `json_config`'s error handler, already shaped as JSON errors.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest for JsonObject {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<JsonObject, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            match json.await? {
                web::Json(Value::Object(map)) => Ok(JsonObject(map)),
                _ => Err(
                    ApiError::BadRequest("The request body must be a JSON object.".into()).into(),
                ),
            }
        })
    }
}

/// JSON body limits, and JSON errors for bodies that are not JSON (415), too large (413) or
/// malformed (400).
pub fn json_config(limit: usize) -> web::JsonConfig {
    use actix_web::error::{InternalError, JsonPayloadError};
    use actix_web::http::StatusCode;
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _req| {
            let (status, message) = match &error {
                JsonPayloadError::ContentType => (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Content-Type must be application/json.".to_owned(),
                ),
                JsonPayloadError::Overflow { limit }
                | JsonPayloadError::OverflowKnownLength { limit, .. } => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body must not be larger than {limit} bytes."),
                ),
                JsonPayloadError::Deserialize(e) => (
                    StatusCode::BAD_REQUEST,
                    format!("The request body is not valid JSON: {e}"),
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "The request body could not be read.".to_owned(),
                ),
            };
            let response = actix_web::HttpResponse::build(status)
                .json(serde_json::json!({ "message": message }));
            InternalError::from_response(error, response).into()
        })
}

//! The error bodies and the shared error answers that keyed, body-taking and operator endpoints give.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};

/// Every error, and several answers, are `{"message": "..."}`.
#[derive(serde::Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// 422: a broken validation rule (Laravel style: `errors` maps each field to its messages),
/// or a valid request that cannot be carried out (`message` only; apply-offer adds Stripe's
/// `error` object when `debug` is on).
#[derive(serde::Serialize, ToSchema)]
pub struct Unprocessable {
    pub message: String,
    #[schema(required = false)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// Stripe's error object (apply-offer, with `debug = true` only).
    #[schema(required = false, value_type = Option<Object>)]
    pub error: Option<Value>,
}

/// 429: the key's rate limit is exhausted.
#[derive(serde::Serialize, ToSchema)]
pub struct RateLimited {
    pub message: String,
    /// Seconds to wait, as in `Retry-After`.
    pub retry_after: u64,
}

/// Answers every keyed endpoint can give.
#[derive(IntoResponses)]
pub enum KeyedErrors {
    /// `Unauthenticated.` without a key; `Invalid API key.` for an unknown or revoked one.
    #[response(status = 401)]
    Unauthorized(Message),
    /// Too many requests for this key.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    TooManyRequests(RateLimited),
    /// The service is overloaded; retry shortly.
    #[response(status = 503)]
    Unavailable(Message),
}

/// Answers only the cancel flow's routes give.
#[derive(IntoResponses)]
pub enum CancelFlowErrors {
    /// The request's `Origin` is not one of the organization's `allowed_origins`, or a
    /// session acts beyond its end user (a body field that differs from the token's, an offer
    /// the session was not shown). Nothing is recorded.
    #[response(status = 403)]
    Forbidden(Message),
}

/// Answers about a JSON request body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed JSON, or a body that is not a JSON object.
    #[response(status = 400)]
    BadRequest(Message),
    /// The body is larger than `server.max_body_bytes`.
    #[response(status = 413)]
    TooLarge(Message),
    /// The body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(Message),
    /// Validation failed.
    #[response(status = 422)]
    Invalid(Unprocessable),
}

/// Answers of the operator API besides its own.
#[derive(IntoResponses)]
pub enum AdminErrors {
    /// The bearer token is missing or wrong.
    #[response(status = 401, headers(("WWW-Authenticate" = String)))]
    Unauthorized(Message),
    /// The operator API is disabled (no `admin.token`), or the resource does not exist.
    #[response(status = 404)]
    NotFound(Message),
    /// The service is overloaded; retry shortly.
    #[response(status = 503)]
    Unavailable(Message),
}

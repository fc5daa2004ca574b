//! Errors as clients see them (Laravel style, see ARCHITECTURE.md): every error is JSON,
//! validation failures are `422 {"message", "errors": {field: [..]}}`.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

use crate::actors::Failure;
pub use crate::domain::validation::ValidationErrors;

/// The errors every handler can produce. Handler-specific failures convert into these.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", .0.summary())]
    Validation(ValidationErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A session token was refused; the message says why.
    #[error("{0}")]
    SessionRefused(crate::domain::session::SessionRefused),
    /// The operator API's bearer token is missing or wrong.
    #[error("Unauthenticated.")]
    BearerUnauthorized,
    /// Authenticated, but not allowed to do this (a session acting beyond its end user).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The key sent too many requests; retry after this many seconds.
    #[error("Too many requests. Retry after {0} seconds.")]
    TooManyRequests(u64),
    /// A request that is valid in shape but cannot be carried out (422 with a message only).
    #[error("{message}")]
    Unprocessable {
        message: String,
        detail: Option<Value>,
    },
    #[error("The service is busy; try again shortly.")]
    Unavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(ValidationErrors::single(field, message))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_)
            | ApiError::BearerUnauthorized
            | ApiError::SessionRefused(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            ApiError::Validation(errors) => errors.to_json(),
            ApiError::Unprocessable {
                message,
                detail: Some(detail),
            } => json!({"message": message, "error": detail}),
            ApiError::Unexpected(error) => {
                // The cause goes to the log with the request id, never to the client.
                tracing::error!(error = ?error, "request failed");
                json!({"message": "Internal server error."})
            }
            ApiError::TooManyRequests(seconds) => {
                json!({"message": self.to_string(), "retry_after": seconds})
            }
            other => json!({"message": other.to_string()}),
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::BearerUnauthorized => {
                response.insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::SessionRefused(_) => {
                response.insert_header((
                    actix_web::http::header::WWW_AUTHENTICATE,
                    r#"Bearer error="invalid_token""#,
                ));
            }
            ApiError::TooManyRequests(seconds) => {
                response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
            }
            _ => {}
        }
        response.json(body)
    }
}

/// Turns actor mailbox failures into 503 (overload) or 500.
impl From<actix::MailboxError> for ApiError {
    fn from(error: actix::MailboxError) -> Self {
        match error {
            actix::MailboxError::Timeout => ApiError::Unavailable,
            actix::MailboxError::Closed => {
                ApiError::Unexpected(anyhow::anyhow!("actor mailbox closed"))
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

/// What an actor's failure looks like to a client.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid(errors) => ApiError::Validation(errors),
            Failure::NotFound(what) => ApiError::NotFound(what),
            Failure::Refused(message) => ApiError::Unprocessable {
                message,
                detail: None,
            },
            Failure::Unexpected(error) => ApiError::Unexpected(error),
        }
    }
}

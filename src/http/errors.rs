//! Errors as clients see them (Laravel style, see ARCHITECTURE.md): every error is JSON,
//! validation failures are `422 {"message", "errors": {field: [..]}}`.
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

/// Broken validation rules, in the order they were found, grouped by field.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ValidationErrors(Vec<(String, Vec<String>)>);

impl ValidationErrors {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        match self.0.iter_mut().find(|(f, _)| *f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field, vec![message])),
        }
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> ValidationErrors {
        let mut errors = ValidationErrors::default();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field with its messages, in the order found.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|(f, _)| f == field)
    }

    /// Laravel's summary: the first message, then "(and N more errors)".
    pub fn summary(&self) -> String {
        let total: usize = self.0.iter().map(|(_, m)| m.len()).sum();
        let first = self
            .0
            .first()
            .and_then(|(_, m)| m.first())
            .cloned()
            .unwrap_or_else(|| "The given data was invalid.".into());
        match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        }
    }

    pub fn to_json(&self) -> Value {
        let errors: Map<String, Value> = self
            .0
            .iter()
            .map(|(field, messages)| (field.clone(), json!(messages)))
            .collect();
        json!({"message": self.summary(), "errors": errors})
    }
}

/// The errors every handler can produce. Handler-specific failures convert into these.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}", .0.summary())]
    Validation(ValidationErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The operator API's bearer token is missing or wrong.
    #[error("Unauthenticated.")]
    BearerUnauthorized,
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
            ApiError::Unauthorized(_) | ApiError::BearerUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
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

#[cfg(test)]
mod tests {
    use super::ValidationErrors;

    #[test]
    fn summary_counts_the_rest_like_laravel() {
        let mut errors = ValidationErrors::default();
        errors.add("target_id", "The target id field is required.");
        assert_eq!(errors.summary(), "The target id field is required.");
        errors.add(
            "user_email",
            "The user email field must be a valid email address.",
        );
        assert_eq!(
            errors.summary(),
            "The target id field is required. (and 1 more error)"
        );
        errors.add("mrr_value", "x");
        assert!(errors.summary().ends_with("(and 2 more errors)"));
        assert_eq!(
            errors.to_json()["errors"]["target_id"][0],
            "The target id field is required."
        );
    }
}

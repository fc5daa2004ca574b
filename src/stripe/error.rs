//! Errors returned by [`super::client::StripeClient`].
//!
//! The one decision callers must make is "retry with the same idempotency key,
//! or give up" — [`StripeError::is_transient`] encodes the rules Stripe's own
//! libraries use, so that knowledge lives in exactly one place.

use serde::{Deserialize, Serialize};

/// What kind of network failure happened before we got an HTTP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// TCP/TLS connection could not be established.
    Connect,
    /// The connect or the overall request timeout elapsed.
    Timeout,
    /// Anything else on the wire: connection reset or closed mid-response.
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connection failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Other => "connection error",
        })
    }
}

/// Stripe's error object: the value of `error` in `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// `api_error`, `card_error`, `idempotency_error`, `invalid_request_error`, …
    #[serde(rename = "type", default)]
    pub error_type: String,
    /// e.g. `resource_missing`, `parameter_unknown`, `resource_already_exists`.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// The offending parameter, e.g. `discounts[0][coupon]`.
    #[serde(default)]
    pub param: Option<String>,
    /// The whole error object as Stripe sent it (decline_code, doc_url, …),
    /// kept for debug output.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

/// Everything that can go wrong talking to Stripe.
///
/// No variant ever contains the secret key: the key only travels in a request
/// header, and Stripe-provided messages are scrubbed of it before they are
/// stored here.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// No usable HTTP response (connect failure, timeout, reset). Transient.
    #[error("network error talking to Stripe ({kind})")]
    Transport {
        kind: TransportKind,
        #[source]
        source: reqwest::Error,
    },

    /// Stripe answered with a non-2xx status and a well-formed error body.
    #[error("{}", describe_api_error(*status, error))]
    Api {
        status: u16,
        /// The `Stripe-Should-Retry` header, when Stripe sent one. It
        /// overrides any status-based guess.
        should_retry: Option<bool>,
        /// The `Request-Id` header, for support tickets.
        request_id: Option<String>,
        /// Boxed: keeps `Result<_, StripeError>` small on the happy path.
        error: Box<ApiErrorBody>,
        /// `Idempotent-Replayed: true`: Stripe answered with the stored result of an earlier
        /// request with this idempotency key, not by running this one.
        replayed: bool,
    },

    /// The response body could not be decoded (non-JSON error page, or a 2xx
    /// body that does not look like the object we asked for).
    #[error("could not decode Stripe's HTTP {status} response: {detail}")]
    Decode {
        status: u16,
        should_retry: Option<bool>,
        request_id: Option<String>,
        detail: String,
    },

    /// We refused to send the request (bad idempotency key, empty id, client
    /// construction failure). A programming/config error: never transient.
    #[error("invalid Stripe request: {0}")]
    InvalidRequest(String),
}

fn describe_api_error(status: u16, e: &ApiErrorBody) -> String {
    let mut s = format!("Stripe returned HTTP {status}");
    if !e.error_type.is_empty() {
        s.push_str(&format!(" {}", e.error_type));
    }
    if let Some(code) = &e.code {
        s.push_str(&format!("/{code}"));
    }
    if let Some(param) = &e.param {
        s.push_str(&format!(" (param {param})"));
    }
    if let Some(msg) = &e.message {
        s.push_str(&format!(": {msg}"));
    }
    s
}

/// The retry rule shared by `Api` and `Decode`: an explicit
/// `Stripe-Should-Retry` wins; otherwise 409 (idempotency/lock conflict),
/// 429 (rate limit / lock timeout) and 5xx are worth retrying.
fn transient_status(status: u16, should_retry: Option<bool>) -> bool {
    match should_retry {
        Some(retry) => retry,
        None => status == 409 || status == 429 || status >= 500,
    }
}

impl StripeError {
    /// Should the caller retry the same request (with the same idempotency
    /// key) later?
    pub fn is_transient(&self) -> bool {
        match self {
            StripeError::Transport { .. } => true,
            StripeError::Api {
                status,
                should_retry,
                ..
            }
            | StripeError::Decode {
                status,
                should_retry,
                ..
            } => transient_status(*status, *should_retry),
            StripeError::InvalidRequest(_) => false,
        }
    }

    /// HTTP status, when Stripe answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            StripeError::Api { status, .. } | StripeError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Stripe's `error.code` (e.g. `resource_missing`).
    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { error, .. } => error.code.as_deref(),
            _ => None,
        }
    }

    /// Stripe's `error.type` (e.g. `idempotency_error`).
    pub fn error_type(&self) -> Option<&str> {
        match self {
            StripeError::Api { error, .. } => Some(error.error_type.as_str()),
            _ => None,
        }
    }

    /// `Request-Id` of the failed call, if Stripe answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            StripeError::Api { request_id, .. } | StripeError::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// 404 `resource_missing`: the object does not exist.
    pub fn is_resource_missing(&self) -> bool {
        self.status() == Some(404) || self.code() == Some("resource_missing")
    }

    /// A failure worth retrying that Stripe replayed from its idempotency store: the first
    /// request with this key failed after it started executing, and Stripe answers every
    /// retry with the same key with that failure. Retrying with the key cannot help; whether
    /// the change landed must be read from the subscription.
    pub fn is_replayed_failure(&self) -> bool {
        matches!(self, StripeError::Api { replayed: true, .. }) && self.is_transient()
    }

    /// The idempotency key was already used with different parameters.
    pub fn is_idempotency_error(&self) -> bool {
        self.error_type() == Some("idempotency_error")
    }

    /// Stripe's error object (`{"type", "code", "message", "param", ...}`)
    /// for debug output; `None` when Stripe did not send one.
    pub fn api_error_json(&self) -> Option<serde_json::Value> {
        match self {
            StripeError::Api { error, .. } => Some(if error.raw.is_null() {
                serde_json::to_value(error).unwrap_or(serde_json::Value::Null)
            } else {
                error.raw.clone()
            }),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for StripeError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_builder() {
            // Malformed URL/headers: retrying cannot help.
            return StripeError::InvalidRequest(e.to_string());
        }
        let kind = if e.is_timeout() {
            TransportKind::Timeout
        } else if e.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Other
        };
        StripeError::Transport { kind, source: e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, should_retry: Option<bool>, ty: &str) -> StripeError {
        StripeError::Api {
            status,
            should_retry,
            request_id: None,
            error: Box::new(ApiErrorBody {
                error_type: ty.into(),
                ..Default::default()
            }),
            replayed: false,
        }
    }

    #[test]
    fn status_based_classification() {
        for s in [409, 429, 500, 502, 503, 504] {
            assert!(api(s, None, "api_error").is_transient(), "{s}");
        }
        for s in [400, 401, 402, 403, 404] {
            assert!(!api(s, None, "invalid_request_error").is_transient(), "{s}");
        }
    }

    #[test]
    fn should_retry_header_overrides_status() {
        assert!(!api(500, Some(false), "api_error").is_transient());
        assert!(api(400, Some(true), "invalid_request_error").is_transient());
        let d = StripeError::Decode {
            status: 502,
            should_retry: None,
            request_id: None,
            detail: "html".into(),
        };
        assert!(d.is_transient());
        assert!(!StripeError::InvalidRequest("x".into()).is_transient());
    }

    #[test]
    fn a_replayed_transient_failure_is_a_signal_not_a_retry() {
        let replayed = |status| match api(status, None, "api_error") {
            StripeError::Api {
                status,
                should_retry,
                request_id,
                error,
                ..
            } => StripeError::Api {
                status,
                should_retry,
                request_id,
                error,
                replayed: true,
            },
            other => other,
        };
        assert!(replayed(500).is_replayed_failure());
        assert!(!api(500, None, "api_error").is_replayed_failure());
        // A replayed refusal is as final as the first one was.
        assert!(!replayed(404).is_replayed_failure());
    }

    #[test]
    fn display_is_concise() {
        let e = StripeError::Api {
            status: 400,
            should_retry: None,
            request_id: Some("req_1".into()),
            error: Box::new(ApiErrorBody {
                error_type: "invalid_request_error".into(),
                code: Some("parameter_unknown".into()),
                message: Some("Received unknown parameter: coupon".into()),
                param: Some("coupon".into()),
                raw: serde_json::Value::Null,
            }),
            replayed: false,
        };
        assert_eq!(
            e.to_string(),
            "Stripe returned HTTP 400 invalid_request_error/parameter_unknown (param coupon): \
             Received unknown parameter: coupon"
        );
        let json = e.api_error_json().unwrap();
        assert_eq!(json["code"], "parameter_unknown");
        assert_eq!(json["type"], "invalid_request_error");
    }
}

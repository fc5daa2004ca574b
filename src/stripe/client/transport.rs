//! Sending one request: auth and version headers, metrics, and turning Stripe's answer
//! into JSON or a classified `StripeError`.

use serde_json::Value;

use super::super::error::{ApiErrorBody, StripeError};
use super::calls::Operation;
use super::secret_key::SecretKey;
use super::{StripeClient, STRIPE_VERSION};

/// Facts about a response that are not part of the object itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMeta {
    pub status: u16,
    pub request_id: Option<String>,
    /// `Idempotent-Replayed: true`: Stripe returned the stored result of an
    /// earlier request with the same idempotency key; nothing was re-applied.
    pub replayed: bool,
}

impl StripeClient {
    /// Sends with auth + version headers, and counts the call in the metrics by
    /// `operation` and outcome.
    pub(super) async fn send(
        &self,
        operation: Operation,
        req: reqwest::RequestBuilder,
        key: &SecretKey,
    ) -> Result<(Value, ResponseMeta), StripeError> {
        use crate::metrics::{stripe_request, StripeOutcome};
        let started = std::time::Instant::now();
        let result = self.send_once(req, key).await;
        let outcome = match &result {
            Ok(_) => StripeOutcome::Success,
            Err(e) if e.is_transient() => StripeOutcome::Transient,
            Err(_) => StripeOutcome::Permanent,
        };
        stripe_request(operation.as_str(), outcome, started.elapsed());
        result
    }

    /// Turns the response into JSON or a classified error.
    async fn send_once(
        &self,
        req: reqwest::RequestBuilder,
        key: &SecretKey,
    ) -> Result<(Value, ResponseMeta), StripeError> {
        let resp = req
            .bearer_auth(key.expose_secret())
            .header("Stripe-Version", STRIPE_VERSION)
            .send()
            .await
            .map_err(|e| log_transport(e.without_url().into()))?;

        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let request_id = header("request-id");
        let should_retry = header("stripe-should-retry").and_then(|v| match v.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
        let replayed = header("idempotent-replayed").as_deref() == Some("true");
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| log_transport(e.without_url().into()))?;

        if (200..300).contains(&status) {
            let value =
                serde_json::from_slice::<Value>(&bytes).map_err(|e| StripeError::Decode {
                    status,
                    should_retry,
                    request_id: request_id.clone(),
                    detail: e.to_string(),
                })?;
            if replayed {
                tracing::info!(
                    status,
                    ?request_id,
                    "Stripe replayed a stored idempotent response"
                );
            }
            return Ok((
                value,
                ResponseMeta {
                    status,
                    request_id,
                    replayed,
                },
            ));
        }

        let err = match parse_error_body(&bytes, key) {
            Some(error) => StripeError::Api {
                status,
                should_retry,
                request_id,
                error: Box::new(error),
                replayed,
            },
            None => StripeError::Decode {
                status,
                should_retry,
                request_id,
                detail: "error response without a Stripe error object".to_string(),
            },
        };
        tracing::warn!(
            status,
            replayed,
            transient = err.is_transient(),
            error_type = err.error_type().unwrap_or_default(),
            code = err.code().unwrap_or_default(),
            request_id = err.request_id().unwrap_or_default(),
            error = %err,
            "Stripe request failed"
        );
        Err(err)
    }
}

fn log_transport(err: StripeError) -> StripeError {
    tracing::warn!(error = %err, transient = err.is_transient(), "Stripe request failed");
    err
}

/// Parses `{"error": {...}}`, scrubbing the secret key from any text Stripe
/// echoed back (it masks keys itself; this makes the guarantee ours).
fn parse_error_body(bytes: &[u8], key: &SecretKey) -> Option<ApiErrorBody> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let mut raw = value.get("error")?.clone();
    let secret = key.expose_secret();
    if !secret.is_empty() {
        if let Some(obj) = raw.as_object_mut() {
            for v in obj.values_mut() {
                if let Some(s) = v.as_str() {
                    if s.contains(secret) {
                        *v = Value::String(s.replace(secret, "****"));
                    }
                }
            }
        }
    }
    let mut body: ApiErrorBody = serde_json::from_value(raw.clone()).ok()?;
    body.raw = raw;
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_is_scrubbed() {
        let key = SecretKey::new("sk_test_abc123");
        let body = br#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_abc123"}}"#;
        let e = parse_error_body(body, &key).unwrap();
        assert_eq!(e.message.as_deref(), Some("Invalid API Key provided: ****"));
        assert!(!e.raw.to_string().contains("abc123"));
    }
}

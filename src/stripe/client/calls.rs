//! The client and the five Stripe calls it makes, one per resource action, with their
//! paths built safely.

use std::time::Duration;

use serde_json::Value;

use super::super::error::StripeError;
use super::coupon::{Coupon, CouponParams};
use super::idempotency::validate_idempotency_key;
use super::secret_key::SecretKey;
use super::subscription::Subscription;
use super::transport::ResponseMeta;

/// The calls, as the metrics name them (`saveloops_stripe_requests_total{operation}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetSubscription,
    GetCoupon,
    CreateCoupon,
    UpdateSubscription,
    CreatePortalSession,
}

impl Operation {
    /// Every operation, so that the metrics export each one from the start.
    pub const ALL: [Operation; 5] = [
        Operation::GetSubscription,
        Operation::GetCoupon,
        Operation::CreateCoupon,
        Operation::UpdateSubscription,
        Operation::CreatePortalSession,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::GetSubscription => "get_subscription",
            Operation::GetCoupon => "get_coupon",
            Operation::CreateCoupon => "create_coupon",
            Operation::UpdateSubscription => "update_subscription",
            Operation::CreatePortalSession => "create_billing_portal_session",
        }
    }
}

/// Stripe REST client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    api_base: String,
}

impl StripeClient {
    /// `api_base` is `https://api.stripe.com` in production or a local fake
    /// (`http://127.0.0.1:PORT`) in tests. `timeout` bounds both connecting
    /// and the whole request, so a hung Stripe cannot stall a worker.
    pub fn new(api_base: impl Into<String>, timeout: Duration) -> Result<Self, StripeError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            // Stripe never redirects; following one would turn a POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("saveloops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StripeError::InvalidRequest(format!("building HTTP client: {e}")))?;
        Ok(StripeClient {
            http,
            api_base: api_base.into().trim_end_matches('/').to_string(),
        })
    }

    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// `GET /v1/subscriptions/{id}` with `expand[]=discounts`, so that the
    /// coupon behind each discount is visible.
    #[tracing::instrument(name = "stripe.get_subscription", skip(self, key), fields(subscription_id = %id))]
    pub async fn get_subscription(
        &self,
        key: &SecretKey,
        id: &str,
    ) -> Result<Subscription, StripeError> {
        let url = self.url(&["v1", "subscriptions", non_empty(id, "subscription id")?]);
        let req = self.http.get(url).query(&[("expand[]", "discounts")]);
        let (value, _) = self.send(Operation::GetSubscription, req, key).await?;
        decode(value, "subscription")
    }

    /// `GET /v1/coupons/{id}`; `Ok(None)` when Stripe says 404
    /// `resource_missing`.
    #[tracing::instrument(name = "stripe.get_coupon", skip(self, key), fields(coupon_id = %id))]
    pub async fn get_coupon(
        &self,
        key: &SecretKey,
        id: &str,
    ) -> Result<Option<Coupon>, StripeError> {
        let url = self.url(&["v1", "coupons", non_empty(id, "coupon id")?]);
        match self
            .send(Operation::GetCoupon, self.http.get(url), key)
            .await
        {
            Ok((value, _)) => decode(value, "coupon").map(Some),
            Err(e) if e.status() == Some(404) && e.code() == Some("resource_missing") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/coupons`.
    #[tracing::instrument(
        name = "stripe.create_coupon",
        skip(self, key, params),
        fields(coupon_id = %params.id, idempotency_key = %idempotency_key)
    )]
    pub async fn create_coupon(
        &self,
        key: &SecretKey,
        params: &CouponParams,
        idempotency_key: &str,
    ) -> Result<Coupon, StripeError> {
        let (value, _) = self
            .post_form(
                Operation::CreateCoupon,
                key,
                &["v1", "coupons"],
                params.to_form(),
                idempotency_key,
            )
            .await?;
        decode(value, "coupon")
    }

    /// `POST /v1/subscriptions/{id}` with exactly the given form.
    pub async fn update_subscription(
        &self,
        key: &SecretKey,
        id: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Subscription, StripeError> {
        self.update_subscription_with_meta(key, id, form, idempotency_key)
            .await
            .map(|(sub, _)| sub)
    }

    /// Like [`Self::update_subscription`], also reporting whether Stripe
    /// replayed a stored response.
    #[tracing::instrument(
        name = "stripe.update_subscription",
        skip(self, key, form),
        fields(subscription_id = %id, idempotency_key = %idempotency_key, params = form.len())
    )]
    pub async fn update_subscription_with_meta(
        &self,
        key: &SecretKey,
        id: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<(Subscription, ResponseMeta), StripeError> {
        // Only the change's own parameters are sent: nothing a strict Stripe (or a
        // stand-in that rejects unknown parameters) could refuse.
        let path = ["v1", "subscriptions", non_empty(id, "subscription id")?];
        let (value, meta) = self
            .post_form(
                Operation::UpdateSubscription,
                key,
                &path,
                form.to_vec(),
                idempotency_key,
            )
            .await?;
        Ok((decode(value, "subscription")?, meta))
    }

    /// `POST /v1/billing_portal/sessions` with `flow_data[type]=payment_method_update`: a
    /// short-lived page of Stripe's where the customer updates their card. Answers its URL.
    #[tracing::instrument(
        name = "stripe.create_billing_portal_session",
        skip(self, key, return_url)
    )]
    pub async fn create_card_update_session(
        &self,
        key: &SecretKey,
        customer: &str,
        return_url: Option<&str>,
        idempotency_key: &str,
    ) -> Result<String, StripeError> {
        let mut form = vec![
            (
                "customer".to_owned(),
                non_empty(customer, "customer id")?.to_owned(),
            ),
            (
                "flow_data[type]".to_owned(),
                "payment_method_update".to_owned(),
            ),
        ];
        if let Some(url) = return_url {
            form.push(("return_url".to_owned(), url.to_owned()));
        }
        let (value, _) = self
            .post_form(
                Operation::CreatePortalSession,
                key,
                &["v1", "billing_portal", "sessions"],
                form,
                idempotency_key,
            )
            .await?;
        #[derive(serde::Deserialize)]
        struct PortalSession {
            url: String,
        }
        decode::<PortalSession>(value, "billing portal session").map(|session| session.url)
    }

    async fn post_form(
        &self,
        operation: Operation,
        key: &SecretKey,
        path: &[&str],
        form: Vec<(String, String)>,
        idempotency_key: &str,
    ) -> Result<(Value, ResponseMeta), StripeError> {
        validate_idempotency_key(idempotency_key)?;
        let req = self
            .http
            .post(self.url(path))
            .header("Idempotency-Key", idempotency_key)
            .form(&form);
        self.send(operation, req, key).await
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.api_base.clone();
        for s in segments {
            url.push('/');
            url.push_str(&encode_path_segment(s));
        }
        url
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, StripeError> {
    serde_json::from_value(value).map_err(|e| StripeError::Decode {
        status: 200,
        should_retry: None,
        request_id: None,
        detail: format!("unexpected {what} shape: {e}"),
    })
}

fn non_empty<'a>(id: &'a str, what: &str) -> Result<&'a str, StripeError> {
    if id.trim().is_empty() {
        // An empty id would silently turn a retrieve into a list call.
        return Err(StripeError::InvalidRequest(format!("empty {what}")));
    }
    Ok(id)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so ids can
/// never alter the path.
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("sub_1/../x"), "sub_1%2F..%2Fx");
        assert_eq!(encode_path_segment("a b?"), "a%20b%3F");
    }
}

//! A deliberately small Stripe REST client: exactly the four calls Saveloops
//! needs, form-encoded, pinned to one API version.
//!
//! The client never retries on its own. Retrying is the job runner's call
//! (it owns the idempotency key and the back-off schedule); the client's part
//! is to classify failures via [`StripeError::is_transient`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiErrorBody, StripeError};

/// The API version every request is pinned to. Since this version a
/// subscription takes `discounts[N][coupon]` (the singular `coupon` parameter
/// is gone) and billing periods live on subscription items.
pub const STRIPE_VERSION: &str = "2025-03-31.basil";

/// Stripe rejects idempotency keys longer than this.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The four calls, as the metrics name them (`saveloops_stripe_requests_total{operation}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetSubscription,
    GetCoupon,
    CreateCoupon,
    UpdateSubscription,
}

impl Operation {
    /// Every operation, so that the metrics export each one from the start.
    pub const ALL: [Operation; 4] = [
        Operation::GetSubscription,
        Operation::GetCoupon,
        Operation::CreateCoupon,
        Operation::UpdateSubscription,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::GetSubscription => "get_subscription",
            Operation::GetCoupon => "get_coupon",
            Operation::CreateCoupon => "create_coupon",
            Operation::UpdateSubscription => "update_subscription",
        }
    }
}

/// A Stripe secret key (`sk_live_…` / `sk_test_…`).
///
/// Deliberately has no `Display`, and `Debug` is redacted, so it cannot leak
/// into logs, error messages or `tracing` fields by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(key: impl Into<String>) -> Self {
        SecretKey(key.into())
    }

    /// The raw key. Only for putting it into the `Authorization` header or
    /// into encrypted storage.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

/// Stripe's `duration` of a coupon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "duration")]
pub enum CouponDuration {
    Once,
    Repeating { duration_in_months: u32 },
    Forever,
}

impl CouponDuration {
    /// The value of Stripe's `duration` parameter.
    pub fn as_str(&self) -> &'static str {
        match self {
            CouponDuration::Once => "once",
            CouponDuration::Repeating { .. } => "repeating",
            CouponDuration::Forever => "forever",
        }
    }

    pub fn months(&self) -> Option<u32> {
        match self {
            CouponDuration::Repeating { duration_in_months } => Some(*duration_in_months),
            _ => None,
        }
    }
}

/// Parameters for `POST /v1/coupons` (percent-off coupons only: that is all
/// Saveloops offers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouponParams {
    /// Our own, deterministic coupon id so that the same offer maps to the
    /// same coupon (and a retry finds it instead of creating a twin).
    pub id: String,
    /// 0 < percent_off <= 100, at most two decimals.
    pub percent_off: f64,
    pub duration: CouponDuration,
    /// Shown on invoices and in the Dashboard (Stripe allows 40 chars).
    pub name: Option<String>,
    /// Sent as `metadata[k]=v`.
    pub metadata: BTreeMap<String, String>,
}

impl CouponParams {
    /// The form body, in a stable order (the order matters for nothing at
    /// Stripe, but stable output keeps request logs and tests readable).
    pub fn to_form(&self) -> Vec<(String, String)> {
        let mut form = vec![
            ("id".to_string(), self.id.clone()),
            ("percent_off".to_string(), format_percent(self.percent_off)),
            ("duration".to_string(), self.duration.as_str().to_string()),
        ];
        if let Some(months) = self.duration.months() {
            form.push(("duration_in_months".to_string(), months.to_string()));
        }
        if let Some(name) = &self.name {
            form.push(("name".to_string(), name.clone()));
        }
        for (k, v) in &self.metadata {
            form.push((format!("metadata[{k}]"), v.clone()));
        }
        form
    }
}

/// `20.0` → `"20"`, `12.5` → `"12.5"`, `33.333` → `"33.33"`.
pub fn format_percent(p: f64) -> String {
    let s = format!("{:.2}", (p * 100.0).round() / 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A coupon as Stripe returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coupon {
    pub id: String,
    #[serde(default)]
    pub percent_off: Option<f64>,
    #[serde(default)]
    pub amount_off: Option<i64>,
    /// `once` | `repeating` | `forever`.
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub duration_in_months: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    /// False once the coupon has expired or been used up.
    #[serde(default = "default_true")]
    pub valid: bool,
}

fn default_true() -> bool {
    true
}

/// One subscription item (`items.data[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionItem {
    pub id: String,
    pub price_id: String,
    pub quantity: Option<i64>,
    /// Since 2025-03-31.basil billing periods live on items.
    pub current_period_end: Option<i64>,
}

/// `pause_collection` of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseCollection {
    /// `keep_as_draft` | `mark_uncollectible` | `void`.
    pub behavior: String,
    pub resumes_at: Option<i64>,
}

/// The parts of a Stripe subscription that Saveloops looks at, read leniently
/// from whatever Stripe returns (unknown fields ignored, expandable fields
/// accepted as ids or objects), plus the full JSON in `raw`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Subscription {
    pub id: String,
    /// Customer id (also when `customer` was expanded into an object).
    pub customer: String,
    pub status: String,
    pub items: Vec<SubscriptionItem>,
    /// Coupon ids of the discounts on the subscription. Only discoverable from
    /// expanded discount objects — which is why the client always sends
    /// `expand[]=discounts`. Reads `coupon` (basil) and `source.coupon`
    /// (later versions), from `discounts[]` and from the legacy singular
    /// `discount`.
    pub discounts: Vec<String>,
    /// Discount ids (`di_…`) from `discounts[]`, expanded or not.
    pub discount_ids: Vec<String>,
    pub pause_collection: Option<PauseCollection>,
    pub trial_end: Option<i64>,
    /// Top-level field before basil, else the first item's period end.
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub metadata: BTreeMap<String, String>,
    /// The object exactly as Stripe sent it.
    pub raw: Value,
}

impl Subscription {
    pub fn first_item(&self) -> Option<&SubscriptionItem> {
        self.items.first()
    }

    pub fn has_coupon(&self, coupon_id: &str) -> bool {
        self.discounts.iter().any(|c| c == coupon_id)
    }
}

/// An expandable field: either `"id"` or `{"id": ...}`.
fn expandable_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Coupon id of an expanded discount object, whichever shape Stripe used.
fn discount_coupon_id(d: &Value) -> Option<String> {
    d.get("coupon")
        .and_then(expandable_id)
        .or_else(|| d.pointer("/source/coupon").and_then(expandable_id))
}

impl TryFrom<Value> for Subscription {
    type Error = String;

    fn try_from(raw: Value) -> Result<Self, Self::Error> {
        let id = raw
            .get("id")
            .and_then(Value::as_str)
            .ok_or("subscription has no `id`")?
            .to_string();
        if let Some(object) = raw.get("object").and_then(Value::as_str) {
            if object != "subscription" {
                return Err(format!("expected a subscription, got object `{object}`"));
            }
        }
        let str_field = |k: &str| {
            raw.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };

        let items: Vec<SubscriptionItem> = raw
            .pointer("/items/data")
            .and_then(Value::as_array)
            .map(|data| {
                data.iter()
                    .filter_map(|it| {
                        Some(SubscriptionItem {
                            id: it.get("id")?.as_str()?.to_string(),
                            price_id: it
                                .get("price")
                                .and_then(expandable_id)
                                .or_else(|| it.get("plan").and_then(expandable_id))
                                .unwrap_or_default(),
                            quantity: it.get("quantity").and_then(Value::as_i64),
                            current_period_end: it
                                .get("current_period_end")
                                .and_then(Value::as_i64),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut discounts = Vec::new();
        let mut discount_ids = Vec::new();
        let listed = raw
            .get("discounts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let singular = raw.get("discount").filter(|d| d.is_object()).cloned();
        for d in listed.iter().chain(singular.iter()) {
            if let Some(di) = expandable_id(d) {
                if !discount_ids.contains(&di) {
                    discount_ids.push(di);
                }
            }
            if let Some(coupon) = discount_coupon_id(d) {
                if !discounts.contains(&coupon) {
                    discounts.push(coupon);
                }
            }
        }

        let pause_collection = raw
            .get("pause_collection")
            .filter(|p| p.is_object())
            .map(|p| PauseCollection {
                behavior: p
                    .get("behavior")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                resumes_at: p.get("resumes_at").and_then(Value::as_i64),
            });

        let metadata = raw
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();

        let current_period_end = raw
            .get("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| items.first().and_then(|i| i.current_period_end));

        Ok(Subscription {
            customer: raw
                .get("customer")
                .and_then(expandable_id)
                .unwrap_or_default(),
            status: str_field("status"),
            trial_end: raw.get("trial_end").and_then(Value::as_i64),
            cancel_at_period_end: raw
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            id,
            items,
            discounts,
            discount_ids,
            pause_collection,
            current_period_end,
            metadata,
            raw,
        })
    }
}

/// Facts about a response that are not part of the object itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMeta {
    pub status: u16,
    pub request_id: Option<String>,
    /// `Idempotent-Replayed: true`: Stripe returned the stored result of an
    /// earlier request with the same idempotency key; nothing was re-applied.
    pub replayed: bool,
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

    /// Sends with auth + version headers, and counts the call in the metrics by
    /// `operation` and outcome.
    async fn send(
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

/// Stripe keeps keys up to 255 characters; longer ones are rejected, so fail
/// before sending rather than burn an attempt.
pub fn validate_idempotency_key(key: &str) -> Result<(), StripeError> {
    if key.is_empty() {
        return Err(StripeError::InvalidRequest("empty idempotency key".into()));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(StripeError::InvalidRequest(format!(
            "idempotency key is {} characters, Stripe allows at most {MAX_IDEMPOTENCY_KEY_LEN}",
            key.len()
        )));
    }
    if key.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(StripeError::InvalidRequest(
            "idempotency key must be printable ASCII (it is sent as a header)".into(),
        ));
    }
    Ok(())
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
    use serde_json::json;

    #[test]
    fn secret_key_debug_is_redacted() {
        let k = SecretKey::new("sk_test_supersecret");
        assert_eq!(format!("{k:?}"), "SecretKey(****)");
        assert!(!format!("{:?}", Some(&k)).contains("supersecret"));
    }

    #[test]
    fn idempotency_key_length_is_checked() {
        assert!(validate_idempotency_key(&"a".repeat(255)).is_ok());
        let err = validate_idempotency_key(&"a".repeat(256)).unwrap_err();
        assert!(!err.is_transient());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key("bad\nkey").is_err());
    }

    #[test]
    fn percent_formatting() {
        assert_eq!(format_percent(20.0), "20");
        assert_eq!(format_percent(12.5), "12.5");
        assert_eq!(format_percent(33.3333), "33.33");
        assert_eq!(format_percent(100.0), "100");
    }

    #[test]
    fn coupon_form() {
        let p = CouponParams {
            id: "c1".into(),
            percent_off: 25.0,
            duration: CouponDuration::Repeating {
                duration_in_months: 3,
            },
            name: Some("n".into()),
            metadata: [("a".to_string(), "b".to_string())].into(),
        };
        let f = p.to_form();
        let get = |k: &str| f.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str());
        assert_eq!(get("id"), Some("c1"));
        assert_eq!(get("percent_off"), Some("25"));
        assert_eq!(get("duration"), Some("repeating"));
        assert_eq!(get("duration_in_months"), Some("3"));
        assert_eq!(get("metadata[a]"), Some("b"));
        let once = CouponParams {
            duration: CouponDuration::Once,
            ..p
        };
        assert!(once
            .to_form()
            .iter()
            .all(|(k, _)| k != "duration_in_months"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_path_segment("sub_1/../x"), "sub_1%2F..%2Fx");
        assert_eq!(encode_path_segment("a b?"), "a%20b%3F");
    }

    #[test]
    fn subscription_basil_expanded() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "trialing",
            "items": {"object": "list", "data": [
                {"id": "si_1", "object": "subscription_item", "price": {"id": "price_a", "object": "price"},
                 "quantity": 2, "current_period_end": 1700000000}
            ]},
            "discounts": [
                {"id": "di_1", "object": "discount", "coupon": {"id": "save20", "object": "coupon"}},
                {"id": "di_2", "object": "discount", "source": {"type": "coupon", "coupon": "later"}}
            ],
            "pause_collection": {"behavior": "void", "resumes_at": 1800000000},
            "trial_end": 1750000000,
            "metadata": {"k": "v"},
            "some_future_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!(sub.customer, "cus_1");
        assert_eq!(sub.items[0].price_id, "price_a");
        assert_eq!(sub.items[0].quantity, Some(2));
        assert_eq!(sub.discounts, vec!["save20", "later"]);
        assert_eq!(sub.discount_ids, vec!["di_1", "di_2"]);
        assert_eq!(
            sub.pause_collection,
            Some(PauseCollection {
                behavior: "void".into(),
                resumes_at: Some(1800000000)
            })
        );
        assert_eq!(sub.trial_end, Some(1750000000));
        assert_eq!(sub.current_period_end, Some(1700000000));
        assert_eq!(sub.metadata["k"], "v");
        assert_eq!(sub.raw["some_future_field"]["x"], 1);
    }

    #[test]
    fn subscription_unexpanded_and_legacy() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_2", "customer": {"id": "cus_9", "object": "customer"}, "status": "active",
            "items": {"data": [{"id": "si_1", "price": "price_b"}]},
            "discounts": ["di_9"],
            "discount": {"id": "di_9", "object": "discount", "coupon": {"id": "old"}},
            "pause_collection": null, "trial_end": null, "current_period_end": 1690000000
        }))
        .unwrap();
        assert_eq!(sub.customer, "cus_9");
        assert_eq!(sub.items[0].price_id, "price_b");
        assert_eq!(sub.discount_ids, vec!["di_9"]);
        assert_eq!(sub.discounts, vec!["old"]);
        assert_eq!(sub.pause_collection, None);
        assert_eq!(sub.trial_end, None);
        assert_eq!(sub.current_period_end, Some(1690000000));
    }

    #[test]
    fn subscription_requires_id_and_type() {
        assert!(serde_json::from_value::<Subscription>(json!({"status": "active"})).is_err());
        assert!(
            serde_json::from_value::<Subscription>(json!({"id": "cpn", "object": "coupon"}))
                .is_err()
        );
    }

    #[test]
    fn error_body_is_scrubbed() {
        let key = SecretKey::new("sk_test_abc123");
        let body = br#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_abc123"}}"#;
        let e = parse_error_body(body, &key).unwrap();
        assert_eq!(e.message.as_deref(), Some("Invalid API Key provided: ****"));
        assert!(!e.raw.to_string().contains("abc123"));
    }
}

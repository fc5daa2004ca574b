#![allow(dead_code)]
//! An in-process fake of the parts of the Stripe API Saveloops uses, for the
//! black-box tests.
//!
//! It is a hand-rolled HTTP/1.1 server on a `tokio::net::TcpListener` (one
//! request per connection, `Connection: close`), so that network faults —
//! dropped connections, slow answers — are fully under the test's control.
//!
//! It behaves like Stripe at API version `2025-03-31.basil` where it matters
//! to us:
//! * `Authorization: Bearer sk_test_…` required (401 otherwise);
//! * form bodies, unknown parameters → 400 `parameter_unknown`, missing ones →
//!   400 `parameter_missing` (with `param` set); the singular `coupon` on a
//!   subscription is unknown since basil;
//! * subscriptions return `discounts` as discount ids unless the request has
//!   `expand[]=discounts`, in which case they are discount objects with the
//!   full `coupon` (basil shape);
//! * idempotency: a POST's `Idempotency-Key` stores the result; a repeat with
//!   the same parameters replays it (`Idempotent-Replayed: true`, nothing
//!   re-applied); other parameters → 400 `idempotency_error`. Like Stripe,
//!   requests rejected by validation (auth, unknown/missing/malformed
//!   params) are not stored; errors raised while executing (resource missing,
//!   already exists, canceled subscription) are. Injected error faults are
//!   never stored.
//!
//! Faults: [`FakeStripe::fail_next`] & co. `Slow` and `DropAfterApply`
//! process the request for real (the change lands and is stored) and then
//! delay or lose the answer — the "timed out, but it happened" case.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The version assumed when a request sends no `Stripe-Version`.
pub const DEFAULT_STRIPE_VERSION: &str = "2025-03-31.basil";

/// A fault to inject instead of (or around) normal processing.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status and a Stripe-shaped body: 5xx → `api_error`,
    /// 429 → `rate_limit`, 409 → like [`Fault::Conflict`], other → generic
    /// `invalid_request_error`. Nothing is applied.
    Status(u16),
    /// 409 `idempotency_key_in_use` (another request with the key in flight).
    Conflict,
    /// 429 `lock_timeout` (object locked by another request).
    LockTimeout,
    /// Like `Status(status)` plus the `Stripe-Should-Retry` header.
    ShouldRetry { status: u16, retry: bool },
    /// Process normally (the change lands), but wait before answering.
    Slow(Duration),
    /// Close the connection without answering; nothing is applied.
    Drop,
    /// Process normally (the change lands and is stored under the
    /// idempotency key), then close the connection without answering.
    DropAfterApply,
    /// Answer with an arbitrary (e.g. HTML) body; nothing is applied.
    Raw { status: u16, body: String },
    /// A 500 `api_error` raised after the request started executing, which Stripe stores
    /// under the idempotency key: every later request with the key and the same parameters
    /// is answered that 500 again, with `Idempotent-Replayed: true`. With `applied` the
    /// change landed before the failure; without, it did not.
    StoredFailure { applied: bool },
}

impl Fault {
    fn name(&self) -> String {
        match self {
            Fault::Status(s) => format!("status_{s}"),
            Fault::Conflict => "conflict".into(),
            Fault::LockTimeout => "lock_timeout".into(),
            Fault::ShouldRetry { status, retry } => format!("should_retry_{status}_{retry}"),
            Fault::Slow(d) => format!("slow_{}ms", d.as_millis()),
            Fault::Drop => "drop".into(),
            Fault::DropAfterApply => "drop_after_apply".into(),
            Fault::Raw { status, .. } => format!("raw_{status}"),
            Fault::StoredFailure { applied } => format!("stored_failure_applied_{applied}"),
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Path without the query string, percent-decoded.
    pub path: String,
    /// Header names lowercased.
    pub headers: BTreeMap<String, String>,
    /// Query parameters followed by form-body parameters, decoded, in order,
    /// bracket keys kept flat (`discounts[0][coupon]`).
    pub params: Vec<(String, String)>,
    /// Answered from the idempotency store.
    pub replayed: bool,
    /// Name of the injected fault, if any (`status_500`, `drop`, …).
    pub fault: Option<String>,
    /// Status answered; `None` if the connection was dropped.
    pub status: Option<u16>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter names, in order.
    pub fn param_names(&self) -> Vec<&str> {
        self.params.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// A running fake. The server stops when this is dropped.
pub struct FakeStripe {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeStripe {
    /// Binds 127.0.0.1 on a free port and serves on a `tokio::spawn`ed task
    /// (works under `#[tokio::test]` and `#[actix_web::test]`).
    pub async fn start() -> FakeStripe {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Stripe: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake Stripe: local_addr");
        let state = Arc::new(Mutex::new(State {
            portal_base: format!("http://{addr}"),
            ..State::default()
        }));
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        FakeStripe {
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT` — the client's `api_base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not wedge every later assertion.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seeds a subscription with one item. Status is `trialing` if
    /// `trial_end` is in the future, else `active`.
    pub fn add_subscription(
        &self,
        id: &str,
        customer: &str,
        item_id: &str,
        price_id: &str,
        trial_end: Option<i64>,
    ) {
        let mut st = self.state();
        let now = st.now();
        let status = match trial_end {
            Some(t) if t > now => "trialing",
            _ => "active",
        };
        let period_end = trial_end.filter(|t| *t > now).unwrap_or(now + 30 * DAY);
        st.subs.insert(
            id.to_string(),
            Sub {
                id: id.to_string(),
                customer: customer.to_string(),
                status: status.to_string(),
                items: vec![Item {
                    id: item_id.to_string(),
                    price: price_id.to_string(),
                    quantity: 1,
                }],
                discounts: Vec::new(),
                pause: None,
                trial_start: trial_end.map(|_| now - DAY),
                trial_end,
                metadata: BTreeMap::new(),
                cancel_at_period_end: false,
                created: now - DAY,
                period_start: now - DAY,
                period_end,
            },
        );
    }

    /// Seeds a percent-off coupon (`duration` once|repeating|forever).
    pub fn add_coupon(
        &self,
        id: &str,
        percent_off: f64,
        duration: &str,
        duration_in_months: Option<i64>,
    ) {
        let mut st = self.state();
        let created = st.now();
        let coupon = coupon_json(
            id,
            Some(percent_off),
            None,
            None,
            duration,
            duration_in_months,
            None,
            BTreeMap::new(),
            created,
        );
        st.coupons.insert(id.to_string(), coupon);
    }

    /// E.g. `canceled`: Stripe refuses to update such subscriptions.
    pub fn set_subscription_status(&self, id: &str, status: &str) {
        if let Some(sub) = self.state().subs.get_mut(id) {
            sub.status = status.to_string();
        }
    }

    /// Freezes the fake's clock (unix seconds) — used for "in the future"
    /// checks and timestamps. `None` = the real clock.
    pub fn set_clock(&self, now: Option<i64>) {
        self.state().clock = now;
    }

    /// Requests with this key get 401 from now on.
    pub fn revoke_key(&self, key: &str) {
        self.state().revoked.insert(key.to_string());
    }

    /// Forgets all stored idempotency keys, as Stripe does after ~24 hours.
    pub fn expire_idempotency_keys(&self) {
        self.state().idempotency.clear();
    }

    /// Inject `fault` into the next `n` requests (any method and path).
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.add_rule(None, None, Some(n), fault);
    }

    /// Inject `fault` into the next `n` requests whose method matches
    /// (`"*"` or `""` = any) and whose path starts with `path_prefix`.
    pub fn fail_next_on(&self, method: &str, path_prefix: &str, n: usize, fault: Fault) {
        self.add_rule(Some(method), Some(path_prefix), Some(n), fault);
    }

    /// Inject `fault` into every request until [`Self::heal`].
    pub fn fail_always(&self, fault: Fault) {
        self.add_rule(None, None, None, fault);
    }

    /// Like [`Self::fail_always`], filtered like [`Self::fail_next_on`].
    pub fn fail_always_on(&self, method: &str, path_prefix: &str, fault: Fault) {
        self.add_rule(Some(method), Some(path_prefix), None, fault);
    }

    /// Removes every fault rule.
    pub fn heal(&self) {
        self.state().faults.clear();
    }

    fn add_rule(
        &self,
        method: Option<&str>,
        path_prefix: Option<&str>,
        remaining: Option<usize>,
        fault: Fault,
    ) {
        let method = method
            .filter(|m| !m.is_empty() && *m != "*")
            .map(|m| m.to_ascii_uppercase());
        self.state().faults.push(FaultRule {
            method,
            path_prefix: path_prefix.map(str::to_string),
            remaining,
            fault,
        });
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    /// Requests with this method (`"*"` = any) and path prefix.
    pub fn requests_to(&self, method: &str, path_prefix: &str) -> Vec<Recorded> {
        self.state()
            .requests
            .iter()
            .filter(|r| {
                (method == "*" || r.method.eq_ignore_ascii_case(method))
                    && r.path.starts_with(path_prefix)
            })
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// How many updates actually changed this subscription (replays and
    /// rejected requests excluded).
    pub fn applied_updates(&self, sub_id: &str) -> usize {
        self.state().applied.get(sub_id).copied().unwrap_or(0)
    }

    /// The subscription as Stripe would return it with
    /// `expand[]=discounts`; `Value::Null` if unknown.
    pub fn subscription(&self, id: &str) -> Value {
        let st = self.state();
        st.subs
            .get(id)
            .map(|s| st.render_sub(s, true))
            .unwrap_or(Value::Null)
    }

    pub fn coupon(&self, id: &str) -> Option<Value> {
        self.state().coupons.get(id).cloned()
    }

    pub fn coupon_ids(&self) -> Vec<String> {
        self.state().coupons.keys().cloned().collect()
    }
}

// ---------------------------------------------------------------------------
// State and Stripe semantics
// ---------------------------------------------------------------------------

const DAY: i64 = 86_400;

#[derive(Default)]
struct State {
    subs: BTreeMap<String, Sub>,
    coupons: BTreeMap<String, Value>,
    /// (api key, idempotency key) → stored result.
    idempotency: HashMap<(String, String), Stored>,
    faults: Vec<FaultRule>,
    requests: Vec<Recorded>,
    applied: HashMap<String, usize>,
    revoked: HashSet<String>,
    clock: Option<i64>,
    counter: u64,
    /// Where billing-portal pages are said to live (this fake's own address).
    portal_base: String,
}

struct FaultRule {
    method: Option<String>,
    path_prefix: Option<String>,
    /// `None` = until healed.
    remaining: Option<usize>,
    fault: Fault,
}

struct Stored {
    fingerprint: String,
    response: Response,
}

#[derive(Clone)]
struct Sub {
    id: String,
    customer: String,
    status: String,
    items: Vec<Item>,
    discounts: Vec<Discount>,
    /// (behavior, resumes_at)
    pause: Option<(String, Option<i64>)>,
    trial_start: Option<i64>,
    trial_end: Option<i64>,
    metadata: BTreeMap<String, String>,
    cancel_at_period_end: bool,
    created: i64,
    period_start: i64,
    period_end: i64,
}

#[derive(Clone)]
struct Item {
    id: String,
    price: String,
    quantity: i64,
}

#[derive(Clone)]
struct Discount {
    id: String,
    coupon: String,
    start: i64,
}

#[derive(Clone)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// An error answer. `executed` = the endpoint ran (so an idempotent result
/// is stored), as opposed to a validation failure.
struct ApiErr {
    status: u16,
    error: Value,
    executed: bool,
}

impl ApiErr {
    fn new(
        status: u16,
        ty: &str,
        code: Option<&str>,
        message: String,
        param: Option<&str>,
    ) -> Self {
        let mut error = json!({ "type": ty, "message": message });
        if let Some(code) = code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = param {
            error["param"] = json!(param);
        }
        ApiErr {
            status,
            error,
            executed: false,
        }
    }

    fn invalid(param: &str, message: String) -> Self {
        Self::new(400, "invalid_request_error", None, message, Some(param))
    }

    fn unknown(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_unknown"),
            format!("Received unknown parameter: {param}"),
            Some(param),
        )
    }

    fn missing(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
            Some(param),
        )
    }

    fn invalid_integer(param: &str, value: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            format!("Invalid integer: {value}"),
            Some(param),
        )
    }

    fn no_such(status: u16, what: &str, id: &str, param: &str) -> Self {
        Self::new(
            status,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {what}: '{id}'"),
            Some(param),
        )
        .executed()
    }

    fn executed(mut self) -> Self {
        self.executed = true;
        self
    }
}

enum Action {
    Respond(Response),
    SlowRespond(Duration, Response),
    Drop,
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl State {
    fn now(&self) -> i64 {
        self.clock.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        })
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_fake{:06}", self.counter)
    }

    fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let idx = self.faults.iter().position(|r| {
            r.remaining != Some(0)
                && r.method.as_deref().is_none_or(|m| m == method)
                && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let rule = &mut self.faults[idx];
        let fault = rule.fault.clone();
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.faults.remove(idx);
            }
        }
        Some(fault)
    }

    /// Everything synchronous about a request: record it, pick a fault,
    /// authenticate, apply idempotency, route.
    fn process(&mut self, req: &Request) -> Action {
        let mut params = req.query.clone();
        if req.method == "POST" {
            params.extend(parse_form(&String::from_utf8_lossy(&req.body)));
        }
        let mut record = Recorded {
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            params: params.clone(),
            replayed: false,
            fault: None,
            status: None,
        };
        let request_id = self.next_id("req");

        let mut delay = None;
        let mut drop_after = false;
        if let Some(fault) = self.take_fault(&req.method, &req.path) {
            record.fault = Some(fault.name());
            match fault {
                Fault::Drop => {
                    self.requests.push(record);
                    return Action::Drop;
                }
                Fault::Slow(d) => delay = Some(d),
                Fault::DropAfterApply => drop_after = true,
                Fault::StoredFailure { applied } => {
                    let failure = fault_response(&Fault::Status(500), req, &request_id);
                    if applied {
                        self.handle(req, &params, &request_id);
                    }
                    let key = req.headers.get("idempotency-key").cloned();
                    if let (Ok(api_key), Some(key), "POST") =
                        (authenticate(req, &self.revoked), key, req.method.as_str())
                    {
                        self.idempotency.insert(
                            (api_key, key),
                            Stored {
                                fingerprint: fingerprint(&req.method, &req.path, &params),
                                response: failure.clone(),
                            },
                        );
                    }
                    record.status = Some(failure.status);
                    self.requests.push(record);
                    return Action::Respond(failure);
                }
                other => {
                    let resp = fault_response(&other, req, &request_id);
                    record.status = Some(resp.status);
                    self.requests.push(record);
                    return Action::Respond(resp);
                }
            }
        }

        let (resp, replayed) = self.handle(req, &params, &request_id);
        record.status = (!drop_after).then_some(resp.status);
        record.replayed = replayed;
        self.requests.push(record);
        match (drop_after, delay) {
            (true, _) => Action::Drop,
            (false, Some(d)) => Action::SlowRespond(d, resp),
            (false, None) => Action::Respond(resp),
        }
    }

    fn handle(
        &mut self,
        req: &Request,
        params: &[(String, String)],
        request_id: &str,
    ) -> (Response, bool) {
        let version = req
            .headers
            .get("stripe-version")
            .cloned()
            .unwrap_or_else(|| DEFAULT_STRIPE_VERSION.to_string());
        let base_headers = |extra: &[(&str, &str)]| {
            let mut h = vec![
                ("Request-Id".to_string(), request_id.to_string()),
                ("Stripe-Version".to_string(), version.clone()),
            ];
            h.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            h
        };

        let api_key = match authenticate(req, &self.revoked) {
            Ok(k) => k,
            Err(e) => return (error_response(e, base_headers(&[])), false),
        };

        let idempotency_key = if req.method == "POST" {
            req.headers.get("idempotency-key").cloned()
        } else {
            None
        };
        let fingerprint = fingerprint(&req.method, &req.path, params);
        if let Some(key) = &idempotency_key {
            if key.len() > 255 {
                let e = ApiErr::new(
                    400,
                    "invalid_request_error",
                    None,
                    "Keys for idempotent requests can only be 255 characters long.".into(),
                    None,
                );
                return (error_response(e, base_headers(&[])), false);
            }
            if let Some(stored) = self.idempotency.get(&(api_key.clone(), key.clone())) {
                if stored.fingerprint == fingerprint {
                    let mut resp = stored.response.clone();
                    resp.headers
                        .push(("Idempotent-Replayed".into(), "true".into()));
                    return (resp, true);
                }
                let e = ApiErr::new(
                    400,
                    "idempotency_error",
                    None,
                    format!(
                        "Keys for idempotent requests can only be used with the same parameters \
                         they were first used with. Try using a key other than '{key}' if you \
                         meant to execute a different request."
                    ),
                    None,
                );
                return (
                    error_response(e, base_headers(&[("Idempotency-Key", key)])),
                    false,
                );
            }
        }

        let result = self.route(req, params, &version);
        let extra: Vec<(&str, &str)> = idempotency_key
            .as_deref()
            .map(|k| vec![("Idempotency-Key", k)])
            .unwrap_or_default();
        let (resp, store) = match result {
            Ok(body) => (
                Response {
                    status: 200,
                    headers: base_headers(&extra),
                    body: body.to_string(),
                },
                true,
            ),
            Err(e) => {
                let executed = e.executed;
                (error_response(e, base_headers(&extra)), executed)
            }
        };
        if let (Some(key), true) = (idempotency_key, store) {
            self.idempotency.insert(
                (api_key, key),
                Stored {
                    fingerprint,
                    response: resp.clone(),
                },
            );
        }
        (resp, false)
    }

    fn route(
        &mut self,
        req: &Request,
        params: &[(String, String)],
        version: &str,
    ) -> Result<Value, ApiErr> {
        let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "subscriptions", id]) => {
                check_known(params, &["expand[]", "expand[N]"])?;
                let sub = self
                    .subs
                    .get(*id)
                    .ok_or_else(|| ApiErr::no_such(404, "subscription", id, "id"))?;
                Ok(self.render_sub(sub, wants_discounts_expanded(params)))
            }
            ("POST", ["v1", "subscriptions", id]) => self.update_subscription(id, params, version),
            ("GET", ["v1", "coupons", id]) => {
                check_known(params, &["expand[]", "expand[N]"])?;
                self.coupons
                    .get(*id)
                    .cloned()
                    .ok_or_else(|| ApiErr::no_such(404, "coupon", id, "id"))
            }
            ("POST", ["v1", "coupons"]) => self.create_coupon(params),
            ("POST", ["v1", "billing_portal", "sessions"]) => self.create_portal_session(params),
            _ => Err(ApiErr::new(
                404,
                "invalid_request_error",
                None,
                format!(
                    "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we \
                     can help at https://support.stripe.com/.",
                    req.method, req.path
                ),
                None,
            )),
        }
    }

    /// `POST /v1/billing_portal/sessions`: a customer of a seeded subscription gets a page;
    /// `flow_data[type]` must be one of Stripe's four flows.
    fn create_portal_session(&mut self, params: &[(String, String)]) -> Result<Value, ApiErr> {
        check_known(
            params,
            &[
                "customer",
                "return_url",
                "configuration",
                "locale",
                "on_behalf_of",
                "flow_data[type]",
                "flow_data[after_completion][type]",
                "expand[]",
                "expand[N]",
            ],
        )?;
        let customer = last(params, "customer").ok_or_else(|| ApiErr::missing("customer"))?;
        if !self.subs.values().any(|sub| sub.customer == customer) {
            return Err(ApiErr::no_such(400, "customer", customer, "customer"));
        }
        let flow = match last(params, "flow_data[type]") {
            None => Value::Null,
            Some(kind @ ("payment_method_update" | "subscription_cancel" | "subscription_update" | "subscription_update_confirm")) => {
                json!({"type": kind, "after_completion": {"type": "portal_homepage"}})
            }
            Some(other) => {
                return Err(ApiErr::invalid(
                    "flow_data[type]",
                    format!("Invalid flow_data[type]: must be one of payment_method_update, subscription_cancel, subscription_update, or subscription_update_confirm (got {other})"),
                ))
            }
        };
        let id = self.next_id("bps");
        Ok(json!({
            "id": id,
            "object": "billing_portal.session",
            "configuration": "bpc_fake_default",
            "created": self.now(),
            "customer": customer,
            "flow": flow,
            "livemode": false,
            "locale": last(params, "locale"),
            "on_behalf_of": null,
            "return_url": last(params, "return_url"),
            "url": format!("{}/p/session/{id}", self.portal_base),
        }))
    }

    fn create_coupon(&mut self, params: &[(String, String)]) -> Result<Value, ApiErr> {
        check_known(
            params,
            &[
                "id",
                "percent_off",
                "amount_off",
                "currency",
                "duration",
                "duration_in_months",
                "name",
                "max_redemptions",
                "redeem_by",
                "metadata",
                "metadata[*]",
                "expand[]",
                "expand[N]",
            ],
        )?;
        let get = |k: &str| last(params, k);

        let percent_off = match get("percent_off") {
            Some(v) => {
                let p: f64 = v.parse().map_err(|_| {
                    ApiErr::new(
                        400,
                        "invalid_request_error",
                        Some("parameter_invalid_float"),
                        format!("Invalid float: {v}"),
                        Some("percent_off"),
                    )
                })?;
                if !(p > 0.0 && p <= 100.0) {
                    return Err(ApiErr::invalid(
                        "percent_off",
                        "Invalid percent_off: must be greater than 0 and at most 100".into(),
                    ));
                }
                Some(p)
            }
            None => None,
        };
        let amount_off = match get("amount_off") {
            Some(v) => Some(parse_int("amount_off", v)?),
            None => None,
        };
        match (percent_off, amount_off) {
            (None, None) => return Err(ApiErr::missing("percent_off")),
            (Some(_), Some(_)) => {
                return Err(ApiErr::invalid(
                    "amount_off",
                    "You may only specify one of these parameters: amount_off, percent_off.".into(),
                ))
            }
            _ => {}
        }
        let currency = get("currency").map(str::to_string);
        if amount_off.is_some() && currency.is_none() {
            return Err(ApiErr::missing("currency"));
        }
        let duration = get("duration").unwrap_or("once");
        if !matches!(duration, "once" | "repeating" | "forever") {
            return Err(ApiErr::invalid(
                "duration",
                format!(
                    "Invalid duration: must be one of once, repeating, or forever (got {duration})"
                ),
            ));
        }
        let duration_in_months = match (duration, get("duration_in_months")) {
            ("repeating", None) => return Err(ApiErr::missing("duration_in_months")),
            ("repeating", Some(v)) => {
                let m = parse_int("duration_in_months", v)?;
                if m < 1 {
                    return Err(ApiErr::invalid(
                        "duration_in_months",
                        "Invalid duration_in_months: must be a positive integer".into(),
                    ));
                }
                Some(m)
            }
            _ => None,
        };
        let name = get("name").map(str::to_string);
        if name.as_ref().is_some_and(|n| n.chars().count() > 40) {
            return Err(ApiErr::invalid(
                "name",
                "Invalid name: must be at most 40 characters".into(),
            ));
        }
        let metadata = metadata_params(params);

        let id = match get("id") {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => self.next_id("cpn"),
        };
        if self.coupons.contains_key(&id) {
            return Err(ApiErr::new(
                400,
                "invalid_request_error",
                Some("resource_already_exists"),
                "Coupon already exists.".into(),
                Some("id"),
            )
            .executed());
        }
        let coupon = coupon_json(
            &id,
            percent_off,
            amount_off,
            currency,
            duration,
            duration_in_months,
            name,
            metadata,
            self.now(),
        );
        self.coupons.insert(id, coupon.clone());
        Ok(coupon)
    }

    fn update_subscription(
        &mut self,
        id: &str,
        params: &[(String, String)],
        version: &str,
    ) -> Result<Value, ApiErr> {
        // Before basil the singular `coupon` / `promotion_code` existed.
        let legacy = version < "2025-03-31";
        let mut known = vec![
            "discounts",
            "discounts[N][coupon]",
            "discounts[N][discount]",
            "discounts[N][promotion_code]",
            "pause_collection",
            "pause_collection[behavior]",
            "pause_collection[resumes_at]",
            "trial_end",
            "proration_behavior",
            "items[N][id]",
            "items[N][price]",
            "items[N][quantity]",
            "metadata",
            "metadata[*]",
            "cancel_at_period_end",
            "expand[]",
            "expand[N]",
        ];
        if legacy {
            known.extend(["coupon", "promotion_code"]);
        }
        check_known(params, &known)?;
        let get = |k: &str| last(params, k);
        let now = self.now();

        // --- validate every parameter before touching anything ---
        let trial_end = match get("trial_end") {
            None => None,
            Some("now") => Some(now),
            Some(v) => {
                let t = parse_int("trial_end", v)?;
                if t <= now {
                    return Err(ApiErr::invalid(
                        "trial_end",
                        "Invalid timestamp: must be an integer Unix timestamp in the future."
                            .into(),
                    ));
                }
                Some(t)
            }
        };
        if let Some(p) = get("proration_behavior") {
            if !matches!(p, "always_invoice" | "create_prorations" | "none") {
                return Err(ApiErr::invalid(
                    "proration_behavior",
                    format!(
                        "Invalid proration_behavior: must be one of always_invoice, create_prorations, or none (got {p})"
                    ),
                ));
            }
        }
        let cancel_at_period_end = match get("cancel_at_period_end") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(v) => {
                return Err(ApiErr::new(
                    400,
                    "invalid_request_error",
                    Some("parameter_invalid_boolean"),
                    format!("Invalid boolean: {v}"),
                    Some("cancel_at_period_end"),
                ))
            }
        };

        // pause_collection: "" clears; a hash needs a behavior.
        enum PauseChange {
            Keep,
            Clear,
            Set(String, Option<i64>),
        }
        let pause_change = match (
            get("pause_collection"),
            get("pause_collection[behavior]"),
            get("pause_collection[resumes_at]"),
        ) {
            (Some(v), _, _) if !v.is_empty() => {
                return Err(ApiErr::invalid("pause_collection", "Invalid object".into()))
            }
            (Some(_), None, None) => PauseChange::Clear,
            (_, None, None) => PauseChange::Keep,
            (_, None, Some(_)) => return Err(ApiErr::missing("pause_collection[behavior]")),
            (_, Some(b), resumes) => {
                if !matches!(b, "keep_as_draft" | "mark_uncollectible" | "void") {
                    return Err(ApiErr::invalid(
                        "pause_collection[behavior]",
                        format!(
                            "Invalid pause_collection[behavior]: must be one of keep_as_draft, mark_uncollectible, or void (got {b})"
                        ),
                    ));
                }
                let resumes_at = match resumes {
                    Some(r) => Some(parse_int("pause_collection[resumes_at]", r)?),
                    None => None,
                };
                PauseChange::Set(b.to_string(), resumes_at)
            }
        };

        let discount_groups = indexed_groups(params, "discounts")?;
        for (n, fields) in &discount_groups {
            let set: Vec<&str> = ["coupon", "discount", "promotion_code"]
                .into_iter()
                .filter(|f| fields.contains_key(*f))
                .collect();
            if set.is_empty() {
                return Err(ApiErr::missing(&format!("discounts[{n}][coupon]")));
            }
            if set.len() > 1 {
                return Err(ApiErr::invalid(
                    &format!("discounts[{n}]"),
                    "You may only specify one of these parameters: coupon, discount, promotion_code."
                        .into(),
                ));
            }
        }
        let clear_discounts = get("discounts") == Some("");
        if get("discounts").is_some_and(|v| !v.is_empty()) {
            return Err(ApiErr::invalid("discounts", "Invalid array".into()));
        }
        let item_groups = indexed_groups(params, "items")?;
        for (n, fields) in &item_groups {
            if let Some(q) = fields.get("quantity") {
                let q = parse_int(&format!("items[{n}][quantity]"), q)?;
                if q < 0 {
                    return Err(ApiErr::invalid(
                        &format!("items[{n}][quantity]"),
                        "Invalid quantity: must be a non-negative integer".into(),
                    ));
                }
            }
            if !fields.contains_key("id") && !fields.contains_key("price") {
                return Err(ApiErr::missing(&format!("items[{n}][price]")));
            }
        }

        // --- state checks (the endpoint is executing from here on) ---
        let sub = self
            .subs
            .get(id)
            .cloned()
            .ok_or_else(|| ApiErr::no_such(404, "subscription", id, "id"))?;
        if matches!(sub.status.as_str(), "canceled" | "incomplete_expired") {
            return Err(ApiErr::new(
                400,
                "invalid_request_error",
                None,
                "You cannot update a subscription that is `canceled` or `incomplete_expired`."
                    .into(),
                None,
            )
            .executed());
        }
        let mut next = sub;

        // Discounts: the list given replaces the current one.
        let mut new_discounts: Option<Vec<Discount>> = clear_discounts.then(Vec::new);
        let mut redeemed = Vec::new();
        if legacy {
            if let Some(c) = get("coupon") {
                if !self.coupons.contains_key(c) {
                    return Err(ApiErr::no_such(400, "coupon", c, "coupon"));
                }
                redeemed.push(c.to_string());
                new_discounts = Some(vec![Discount {
                    id: self.next_id("di"),
                    coupon: c.to_string(),
                    start: now,
                }]);
            }
        }
        if !discount_groups.is_empty() {
            let mut list = Vec::new();
            for (n, fields) in &discount_groups {
                if let Some(c) = fields.get("coupon") {
                    let param = format!("discounts[{n}][coupon]");
                    let coupon = self
                        .coupons
                        .get(c)
                        .ok_or_else(|| ApiErr::no_such(400, "coupon", c, &param))?;
                    if coupon["valid"] == json!(false) {
                        return Err(
                            ApiErr::invalid(&param, format!("Coupon expired: {c}")).executed()
                        );
                    }
                    redeemed.push(c.clone());
                    list.push(Discount {
                        id: self.next_id("di"),
                        coupon: c.clone(),
                        start: now,
                    });
                } else if let Some(d) = fields.get("discount") {
                    let existing = next
                        .discounts
                        .iter()
                        .find(|x| &x.id == d)
                        .cloned()
                        .ok_or_else(|| {
                            ApiErr::no_such(
                                400,
                                "discount",
                                d,
                                &format!("discounts[{n}][discount]"),
                            )
                        })?;
                    list.push(existing);
                } else if let Some(p) = fields.get("promotion_code") {
                    return Err(ApiErr::no_such(
                        400,
                        "promotion code",
                        p,
                        &format!("discounts[{n}][promotion_code]"),
                    ));
                }
            }
            new_discounts = Some(list);
        }

        // Items: with an id → change that item; without → add one.
        for (n, fields) in &item_groups {
            if let Some(price) = fields.get("price") {
                if !price.starts_with("price_") {
                    return Err(ApiErr::no_such(
                        400,
                        "price",
                        price,
                        &format!("items[{n}][price]"),
                    ));
                }
            }
            let quantity = fields.get("quantity").and_then(|q| q.parse().ok());
            match fields.get("id") {
                Some(item_id) => {
                    let item = next
                        .items
                        .iter_mut()
                        .find(|i| &i.id == item_id)
                        .ok_or_else(|| {
                            ApiErr::no_such(
                                400,
                                "subscription item",
                                item_id,
                                &format!("items[{n}][id]"),
                            )
                        })?;
                    if let Some(price) = fields.get("price") {
                        item.price = price.clone();
                    }
                    if let Some(q) = quantity {
                        item.quantity = q;
                    }
                }
                None => {
                    let item = Item {
                        id: self.next_id("si"),
                        price: fields.get("price").cloned().unwrap_or_default(),
                        quantity: quantity.unwrap_or(1),
                    };
                    next.items.push(item);
                }
            }
        }

        if let Some(list) = new_discounts {
            next.discounts = list;
        }
        match pause_change {
            PauseChange::Keep => {}
            PauseChange::Clear => next.pause = None,
            PauseChange::Set(b, r) => next.pause = Some((b, r)),
        }
        if let Some(t) = trial_end {
            next.trial_end = Some(t);
            if t > now {
                next.status = "trialing".into();
                next.trial_start.get_or_insert(now);
                // A trial pushes the next billing date to its end.
                next.period_end = t;
            } else {
                next.status = "active".into();
            }
        }
        if let Some(c) = cancel_at_period_end {
            next.cancel_at_period_end = c;
        }
        if get("metadata") == Some("") {
            next.metadata.clear();
        }
        for (k, v) in metadata_params(params) {
            if v.is_empty() {
                next.metadata.remove(&k);
            } else {
                next.metadata.insert(k, v);
            }
        }

        for c in redeemed {
            if let Some(coupon) = self.coupons.get_mut(&c) {
                let n = coupon["times_redeemed"].as_i64().unwrap_or(0);
                coupon["times_redeemed"] = json!(n + 1);
            }
        }
        *self.applied.entry(id.to_string()).or_default() += 1;
        let body = self.render_sub(&next, wants_discounts_expanded(params));
        self.subs.insert(id.to_string(), next);
        Ok(body)
    }

    fn render_sub(&self, s: &Sub, expand_discounts: bool) -> Value {
        let discounts: Vec<Value> = s
            .discounts
            .iter()
            .map(|d| {
                if !expand_discounts {
                    return json!(d.id);
                }
                let coupon = self.coupons.get(&d.coupon).cloned().unwrap_or(Value::Null);
                let end = coupon["duration_in_months"]
                    .as_i64()
                    .filter(|_| coupon["duration"] == "repeating")
                    .map(|m| d.start + m * 30 * DAY);
                json!({
                    "id": d.id,
                    "object": "discount",
                    "checkout_session": null,
                    "coupon": coupon,
                    "customer": s.customer,
                    "end": end,
                    "invoice": null,
                    "invoice_item": null,
                    "promotion_code": null,
                    "start": d.start,
                    "subscription": s.id,
                    "subscription_item": null,
                })
            })
            .collect();
        let items: Vec<Value> = s
            .items
            .iter()
            .map(|i| {
                json!({
                    "id": i.id,
                    "object": "subscription_item",
                    "created": s.created,
                    "current_period_start": s.period_start,
                    "current_period_end": s.period_end,
                    "discounts": [],
                    "metadata": {},
                    "price": {
                        "id": i.price,
                        "object": "price",
                        "active": true,
                        "currency": "usd",
                        "product": "prod_fake",
                        "recurring": {"interval": "month", "interval_count": 1},
                        "type": "recurring",
                    },
                    "quantity": i.quantity,
                    "subscription": s.id,
                })
            })
            .collect();
        let pause = s
            .pause
            .as_ref()
            .map(|(behavior, resumes_at)| json!({"behavior": behavior, "resumes_at": resumes_at}));
        json!({
            "id": s.id,
            "object": "subscription",
            "billing_cycle_anchor": s.period_start,
            "cancel_at": null,
            "cancel_at_period_end": s.cancel_at_period_end,
            "canceled_at": null,
            "collection_method": "charge_automatically",
            "created": s.created,
            "currency": "usd",
            "customer": s.customer,
            "default_payment_method": null,
            "discounts": discounts,
            "ended_at": null,
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "total_count": s.items.len(),
                "url": format!("/v1/subscription_items?subscription={}", s.id),
            },
            "latest_invoice": null,
            "livemode": false,
            "metadata": s.metadata,
            "pause_collection": pause,
            "start_date": s.created,
            "status": s.status,
            "trial_end": s.trial_end,
            "trial_start": s.trial_start,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn coupon_json(
    id: &str,
    percent_off: Option<f64>,
    amount_off: Option<i64>,
    currency: Option<String>,
    duration: &str,
    duration_in_months: Option<i64>,
    name: Option<String>,
    metadata: BTreeMap<String, String>,
    created: i64,
) -> Value {
    json!({
        "id": id,
        "object": "coupon",
        "amount_off": amount_off,
        "created": created,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": false,
        "max_redemptions": null,
        "metadata": metadata,
        "name": name,
        "percent_off": percent_off,
        "redeem_by": null,
        "times_redeemed": 0,
        "valid": true,
    })
}

fn authenticate(req: &Request, revoked: &HashSet<String>) -> Result<String, ApiErr> {
    let Some(auth) = req.headers.get("authorization") else {
        return Err(ApiErr::new(
            401,
            "invalid_request_error",
            None,
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY')."
                .into(),
            None,
        ));
    };
    let key = auth.strip_prefix("Bearer ").unwrap_or("").trim();
    if !key.starts_with("sk_test_") || key.len() <= "sk_test_".len() || revoked.contains(key) {
        // Stripe masks all but the last four characters.
        let tail: String = key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ApiErr::new(
            401,
            "invalid_request_error",
            None,
            format!("Invalid API Key provided: sk_****{tail}"),
            None,
        ));
    }
    Ok(key.to_string())
}

fn fault_response(fault: &Fault, req: &Request, request_id: &str) -> Response {
    let (status, should_retry) = match fault {
        Fault::Status(s) => (*s, None),
        Fault::Conflict => (409, None),
        Fault::LockTimeout => (429, None),
        Fault::ShouldRetry { status, retry } => (*status, Some(*retry)),
        Fault::Raw { status, body } => {
            return Response {
                status: *status,
                headers: vec![
                    ("Content-Type".into(), "text/html".into()),
                    ("Request-Id".into(), request_id.into()),
                ],
                body: body.clone(),
            };
        }
        // Not error answers, or built from one; handled by the caller.
        Fault::Slow(_) | Fault::Drop | Fault::DropAfterApply | Fault::StoredFailure { .. } => {
            (500, None)
        }
    };
    let key = req
        .headers
        .get("idempotency-key")
        .cloned()
        .unwrap_or_default();
    let err = match (fault, status) {
        (Fault::LockTimeout, _) => ApiErr::new(
            429,
            "invalid_request_error",
            Some("lock_timeout"),
            "This object cannot be accessed right now because another API request or Stripe \
             process is currently accessing it. If you see this error intermittently, retry \
             the request."
                .into(),
            None,
        ),
        (_, 409) => ApiErr::new(
            409,
            "invalid_request_error",
            Some("idempotency_key_in_use"),
            format!(
                "There is currently another in-progress request using this Idempotent Key \
                 (that probably means you submitted twice, and the other request is still \
                 going through): {key}. Please try again later."
            ),
            None,
        ),
        (_, 429) => ApiErr::new(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Too many requests hit the API too quickly. We recommend an exponential backoff \
             of your requests."
                .into(),
            None,
        ),
        (_, s) if s >= 500 => ApiErr::new(
            s,
            "api_error",
            None,
            "Sorry, something went wrong. We've already been notified of the problem, but if \
             you need any help, you can reach us at support.stripe.com/contact."
                .into(),
            None,
        ),
        (_, s) => ApiErr::new(
            s,
            "invalid_request_error",
            None,
            "Injected fault.".into(),
            None,
        ),
    };
    let mut headers = vec![("Request-Id".to_string(), request_id.to_string())];
    if let Some(retry) = should_retry {
        headers.push(("Stripe-Should-Retry".into(), retry.to_string()));
    }
    error_response(err, headers)
}

fn error_response(e: ApiErr, headers: Vec<(String, String)>) -> Response {
    Response {
        status: e.status,
        headers,
        body: json!({ "error": e.error }).to_string(),
    }
}

/// Method, path and parameters, order-insensitive (Stripe compares
/// parameters, not their order on the wire).
fn fingerprint(method: &str, path: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    format!("{method} {path} {sorted:?}")
}

fn last<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn parse_int(param: &str, v: &str) -> Result<i64, ApiErr> {
    v.trim()
        .parse()
        .map_err(|_| ApiErr::invalid_integer(param, v))
}

fn wants_discounts_expanded(params: &[(String, String)]) -> bool {
    params
        .iter()
        .any(|(k, v)| k.starts_with("expand[") && v == "discounts")
}

fn metadata_params(params: &[(String, String)]) -> BTreeMap<String, String> {
    params
        .iter()
        .filter_map(|(k, v)| {
            let (base, segs) = split_key(k)?;
            (base == "metadata" && segs.len() == 1).then(|| (segs[0].clone(), v.clone()))
        })
        .collect()
}

/// `items[0][id]=…&items[0][price]=…` → {0: {id: …, price: …}}, sorted by
/// index. Callers have already rejected unknown keys.
fn indexed_groups(
    params: &[(String, String)],
    base_name: &str,
) -> Result<BTreeMap<usize, BTreeMap<String, String>>, ApiErr> {
    let mut groups: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in params {
        let Some((base, segs)) = split_key(k) else {
            continue;
        };
        if base != base_name || segs.len() != 2 {
            continue;
        }
        let n: usize = segs[0].parse().map_err(|_| ApiErr::unknown(k))?;
        groups
            .entry(n)
            .or_default()
            .insert(segs[1].clone(), v.clone());
    }
    Ok(groups)
}

/// `discounts[0][coupon]` → ("discounts", ["0", "coupon"]); `None` if the
/// brackets are malformed.
fn split_key(key: &str) -> Option<(String, Vec<String>)> {
    let (base, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if base.is_empty() {
        return None;
    }
    let mut segs = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        segs.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some((base.to_string(), segs))
}

/// Pattern syntax: `[N]` = a decimal index, `[*]` = any non-empty key,
/// `[]` = literally empty, anything else literal.
fn key_matches(key: &str, pattern: &str) -> bool {
    let (Some((kb, ks)), Some((pb, ps))) = (split_key(key), split_key(pattern)) else {
        return false;
    };
    kb == pb
        && ks.len() == ps.len()
        && ks.iter().zip(&ps).all(|(k, p)| match p.as_str() {
            "N" => !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()),
            "*" => !k.is_empty(),
            lit => k == lit,
        })
}

/// 400 `parameter_unknown` for the first parameter no pattern allows.
fn check_known(params: &[(String, String)], patterns: &[&str]) -> Result<(), ApiErr> {
    for (k, _) in params {
        if !patterns.iter().any(|p| key_matches(k, p)) {
            return Err(ApiErr::unknown(k));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1
// ---------------------------------------------------------------------------

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let _ = handle_connection(stream, state).await;
        });
    }
}

async fn handle_connection(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let req = match tokio::time::timeout(Duration::from_secs(10), read_request(&mut stream)).await {
        Ok(Ok(Some(req))) => req,
        _ => return Ok(()),
    };
    // Never hold the lock across an await.
    let action = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.process(&req)
    };
    match action {
        Action::Drop => {
            drop(stream);
            Ok(())
        }
        Action::Respond(resp) => write_response(&mut stream, &resp).await,
        Action::SlowRespond(delay, resp) => {
            tokio::time::sleep(delay).await;
            write_response(&mut stream, &resp).await
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_ascii_uppercase();
    let target = request_line.next().unwrap_or_default().to_string();
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let content_length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(content_length);

    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    Ok(Some(Request {
        method,
        path: percent_decode(raw_path, false),
        query: parse_form(raw_query),
        headers,
        body,
    }))
}

async fn write_response(stream: &mut TcpStream, resp: &Response) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    let has_content_type = resp
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if !has_content_type {
        out.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    out.push_str(&resp.body);
    stream.write_all(out.as_bytes()).await?;
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Request Failed",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// `application/x-www-form-urlencoded` → pairs; keys stay flat.
fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_as_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        assert_eq!(
            parse_form("discounts%5B0%5D%5Bcoupon%5D=a+b%21&x=&y"),
            vec![
                ("discounts[0][coupon]".to_string(), "a b!".to_string()),
                ("x".to_string(), String::new()),
                ("y".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz", true), "%zz");
        assert_eq!(percent_decode("%41", false), "A");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }

    #[test]
    fn key_patterns() {
        assert!(key_matches("discounts[0][coupon]", "discounts[N][coupon]"));
        assert!(key_matches("discounts[12][coupon]", "discounts[N][coupon]"));
        assert!(!key_matches("discounts[a][coupon]", "discounts[N][coupon]"));
        assert!(!key_matches(
            "discounts[0][coupon][x]",
            "discounts[N][coupon]"
        ));
        assert!(key_matches("metadata[anything]", "metadata[*]"));
        assert!(!key_matches("metadata[]", "metadata[*]"));
        assert!(key_matches("expand[]", "expand[]"));
        assert!(!key_matches("coupon", "discounts[N][coupon]"));
        assert!(!key_matches("items[0", "items[N][id]"));
    }
}

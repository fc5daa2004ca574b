//! An instant fake Stripe for the benchmark: answers the four calls Saveloops makes
//! (`POST /v1/coupons`, `GET /v1/coupons/{id}`, `GET|POST /v1/subscriptions/{id}`) at once,
//! with Stripe-shaped JSON. Like Stripe, creating a coupon whose id exists answers 400
//! `resource_already_exists` (then Saveloops reads it with `GET /v1/coupons/{id}`).
//!
//! `FAIL_FIRST=0.5` fails that fraction of first attempts at a subscription update (decided
//! by a hash of the idempotency key, so it is reproducible) with a 500 `api_error`; the
//! retry with the same key succeeds. Keeps nothing but coupon ids and the keys it failed.
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

struct State {
    coupons: Mutex<HashSet<String>>,
    failed: Mutex<HashSet<String>>,
    fail_first: f64,
    counter: AtomicU64,
    updates: AtomicU64,
    failures: AtomicU64,
}

/// Stripe's 401 unless the request carries a secret key.
fn authorize(req: &HttpRequest) -> Result<(), HttpResponse> {
    let authorized = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer sk_"));
    if authorized {
        Ok(())
    } else {
        Err(error(
            401,
            "invalid_request_error",
            None,
            "Invalid API Key provided.",
        ))
    }
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Request-Id", "req_bench"))
        .json(json!({"error": {"type": kind, "code": code, "message": message}}))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn coupon_json(id: &str, percent: Option<&str>, duration: &str) -> Value {
    json!({
        "id": id, "object": "coupon",
        "percent_off": percent.and_then(|p| p.parse::<f64>().ok()).unwrap_or(20.0),
        "amount_off": null, "duration": duration, "duration_in_months": null,
        "name": null, "valid": true, "livemode": false, "metadata": {}
    })
}

fn subscription_json(id: &str, params: &[(String, String)]) -> Value {
    let get = |k: &str| {
        params
            .iter()
            .rev()
            .find(|(p, _)| p == k)
            .map(|(_, v)| v.as_str())
    };
    let discounts: Vec<Value> = get("discounts[0][coupon]")
        .map(|c| {
            vec![json!({"id": "di_bench", "object": "discount",
                        "coupon": coupon_json(c, None, "once")})]
        })
        .unwrap_or_default();
    let mut metadata = serde_json::Map::new();
    for (k, v) in params {
        if let Some(name) = k
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            metadata.insert(name.to_owned(), Value::String(v.clone()));
        }
    }
    let pause = get("pause_collection[behavior]").map(|b| {
        json!({"behavior": b,
               "resumes_at": get("pause_collection[resumes_at]").and_then(|r| r.parse::<i64>().ok())})
    });
    json!({
        "id": id, "object": "subscription", "customer": "cus_bench", "status": "active",
        "cancel_at_period_end": false, "trial_end": null,
        "items": {"object": "list", "data": [
            {"id": "si_bench", "object": "subscription_item", "quantity": 1,
             "price": {"id": get("items[0][price]").unwrap_or("price_bench"), "object": "price"},
             "current_period_end": 1_900_000_000}
        ]},
        "discounts": discounts,
        "pause_collection": pause,
        "metadata": metadata,
    })
}

fn key_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn create_coupon(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    if let Err(refused) = authorize(&req) {
        return refused;
    }
    let params = form(&body);
    let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.as_str());
    let id = match get("id") {
        Some(id) => id.to_owned(),
        None => format!("bench{}", state.counter.fetch_add(1, Ordering::Relaxed)),
    };
    let fresh = state.coupons.lock().unwrap().insert(id.clone());
    if !fresh {
        return error(
            400,
            "invalid_request_error",
            Some("resource_already_exists"),
            "Coupon already exists.",
        );
    }
    HttpResponse::Ok().json(coupon_json(
        &id,
        get("percent_off"),
        get("duration").unwrap_or("once"),
    ))
}

async fn get_coupon(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<State>,
) -> HttpResponse {
    if let Err(refused) = authorize(&req) {
        return refused;
    }
    if !state.coupons.lock().unwrap().contains(id.as_str()) {
        return error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            "No such coupon",
        );
    }
    HttpResponse::Ok().json(coupon_json(&id, None, "once"))
}

async fn get_subscription(req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    if let Err(refused) = authorize(&req) {
        return refused;
    }
    HttpResponse::Ok().json(subscription_json(&id, &[]))
}

async fn update_subscription(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<State>,
) -> HttpResponse {
    if let Err(refused) = authorize(&req) {
        return refused;
    }
    if state.fail_first > 0.0 {
        if let Some(key) = key_of(&req) {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            let unlucky = (hasher.finish() % 10_000) as f64 / 10_000.0 < state.fail_first;
            if unlucky && state.failed.lock().unwrap().insert(key) {
                state.failures.fetch_add(1, Ordering::Relaxed);
                return error(
                    500,
                    "api_error",
                    None,
                    "An unknown error occurred (bench fault).",
                );
            }
        }
    }
    state.updates.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().json(subscription_json(&id, &form(&body)))
}

async fn stats(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "updates": state.updates.load(Ordering::Relaxed),
        "failures": state.failures.load(Ordering::Relaxed),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18091);
    let fail_first: f64 = std::env::var("FAIL_FIRST")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    let state = web::Data::new(State {
        coupons: Mutex::new(HashSet::new()),
        failed: Mutex::new(HashSet::new()),
        fail_first,
        counter: AtomicU64::new(0),
        updates: AtomicU64::new(0),
        failures: AtomicU64::new(0),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/v1/coupons", web::post().to(create_coupon))
            .route("/v1/coupons/{id}", web::get().to(get_coupon))
            .route("/v1/subscriptions/{id}", web::get().to(get_subscription))
            .route(
                "/v1/subscriptions/{id}",
                web::post().to(update_subscription),
            )
            .route("/bench/stats", web::get().to(stats))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

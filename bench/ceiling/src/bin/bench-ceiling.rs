//! The ceiling for `POST /api/v1/intercept`: the least an actix-web app can do for the same
//! request. It reads the same JSON body into an object, checks the key header, validates
//! `target_id` and answers a fixed intercept-shaped response. Same framework, same worker
//! count (one per core), same request-id header on the way out.
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Map, Value};

async fn intercept(req: HttpRequest, body: web::Json<Map<String, Value>>) -> HttpResponse {
    let key_ok = req
        .headers()
        .get("X-Knot-Key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k.starts_with("slk_"));
    if !key_ok {
        return HttpResponse::Unauthorized().json(json!({"message": "Unauthenticated."}));
    }
    if !body.get("target_id").is_some_and(Value::is_string) {
        return HttpResponse::UnprocessableEntity()
            .json(json!({"message": "The target id field is required."}));
    }
    let mut response = HttpResponse::Ok().json(json!({
        "offers": [
            {"id": 1, "type": "discount", "value": 20, "label": "20% off",
             "config": {"duration": "once"}, "experiment": null},
            {"id": 2, "type": "pause", "value": 1, "label": "Take a month off",
             "config": {"behavior": "void"}, "experiment": null}
        ],
        "show_update_card": false,
        "show_onboarding_prompt": true,
    }));
    response.headers_mut().insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_static("0000000000000000"),
    );
    response
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18090);
    HttpServer::new(|| {
        App::new()
            .app_data(web::JsonConfig::default().limit(65536))
            .route("/api/v1/intercept", web::post().to(intercept))
            .route("/health", web::get().to(HttpResponse::Ok))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

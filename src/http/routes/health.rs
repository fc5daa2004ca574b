use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::actors::readiness::CheckDatabase;
use crate::actors::Actors;

/// The process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The process can serve: the database answers.
pub async fn ready(actors: web::Data<Actors>) -> HttpResponse {
    match actors.readiness.send(CheckDatabase).await {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": "down", "message": format!("database: {e}")})),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "unavailable", "database": "unknown", "message": e.to_string()})),
    }
}

//! Liveness, readiness and metrics: outside the keyed API.
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::actors::admin_desk::QueueFigures;
use crate::actors::dunning_tracker::CachedEndUsers;
use crate::actors::readiness::CheckReadiness;
use crate::actors::Actors;
use crate::config::Settings;
use crate::http::auth::bearer_matches;
use crate::http::docs::{Health, Message, Readiness};
use crate::jobs::JOB_KINDS;

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", security(()),
    responses((status = 200, description = "The process is up.", body = Health)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The process can serve: the database answers, and Redis too when the queue lives there.
#[utoipa::path(get, path = "/ready", tag = "operations", security(()),
    responses(
        (status = 200, description = "Every dependency answers.", body = Readiness),
        (status = 503, description = "A dependency is down; `message` names it.", body = Readiness),
    ))]
pub async fn ready(actors: web::Data<Actors>) -> HttpResponse {
    let report = match actors.readiness.send(CheckReadiness).await {
        Ok(report) => report,
        Err(e) => {
            return HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable",
                "database": "unknown",
                "message": format!("readiness check: {e}"),
            }))
        }
    };
    let mut body = Map::new();
    let mut failures = Vec::new();
    let mut part = |name: &str, check: &Result<(), String>| {
        body.insert(
            name.to_owned(),
            json!(if check.is_ok() { "ok" } else { "down" }),
        );
        if let Err(e) = check {
            failures.push(format!("{name}: {e}"));
        }
    };
    part("database", &report.database);
    if let Some(redis) = &report.redis {
        part("redis", redis);
    }
    let ready = report.is_ready();
    body.insert(
        "status".into(),
        json!(if ready { "ready" } else { "unavailable" }),
    );
    if !failures.is_empty() {
        body.insert("message".into(), json!(failures.join("; ")));
    }
    let body = Value::Object(body);
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics (text exposition format). Protected by `metrics.token` when it is set.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("metrics_bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format.", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics.token` is set and the request does not carry it.", body = Message),
    ))]
pub async fn metrics(
    req: HttpRequest,
    actors: web::Data<Actors>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let token = &settings.metrics.token;
    if !token.is_empty() && !bearer_matches(&req, token) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .json(json!({"message": "Unauthenticated."}));
    }
    let max_age = std::time::Duration::from_secs(settings.metrics.queue_sample_seconds);
    let stats = match actors.admin.send(QueueFigures { max_age }).await {
        Ok(Ok(stats)) => Some(stats),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not read the queue for /metrics");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the queue for /metrics");
            None
        }
    };
    let cached = actors.dunning.send(CachedEndUsers).await.ok();
    let readiness = actors.readiness.send(CheckReadiness).await.ok();
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::render(
            stats.as_ref(),
            JOB_KINDS,
            cached,
            readiness.as_ref(),
        ))
}

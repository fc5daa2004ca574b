//! Cross-cutting request handling: a request id on every span and response, and JSON bodies
//! for errors produced outside our handlers (unknown route, wrong method).
use std::panic::AssertUnwindSafe;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::HttpResponse;
use futures_util::FutureExt;
use rand::Rng;
use serde_json::json;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client-supplied request id is kept when it is short and printable; else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::thread_rng().gen::<u64>()))
}

/// Wraps each request in a span carrying its id, echoes the id in `X-Request-Id`, and
/// counts the request in the metrics by route pattern, status and latency.
pub async fn request_span<B: MessageBody>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = std::time::Instant::now();
    // Any token is a valid method: keep the label to the standard ones.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    };
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
        // Set by the `Tenant` extractor once the key is known (one span per request: a
        // second one per handler cost ~3 % of an intercept's CPU in the fmt layer).
        org = tracing::field::Empty,
    );
    // No status field: nothing is logged in the span once the answer is known (a field
    // recorded there was formatted for every request and never shown).
    let mut response = next.call(req).instrument(span).await?;
    // The pattern, not the path: `/api/v1/offers/{id}` is one series whatever the id.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    crate::metrics::http_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Answers a handler that panics like any unexpected error (500 `{"message": "Internal server
/// error."}`, the panic logged with the request id, which the request's span carries), so
/// that no input can end a request without an answer. It wraps each resource rather than the
/// app: the request it keeps for the answer must be cloned after routing, which needs it
/// unshared.
pub async fn catch_panics<B: MessageBody>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let request = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(response) => Ok(response?.map_into_left_body()),
        Err(payload) => {
            let message = crate::actors::guard::panic_message(&*payload);
            crate::metrics::panic_caught("http");
            // Logged as every unexpected error is, by its `error_response`.
            let error = crate::http::errors::ApiError::Unexpected(anyhow::anyhow!(
                "the request's handler panicked: {message}"
            ));
            let answer = actix_web::ResponseError::error_response(&error);
            Ok(ServiceResponse::new(request, answer).map_into_right_body())
        }
    }
}

/// Replaces an error body that is neither JSON nor one of the dashboard's HTML pages with
/// `{"message": ...}`.
pub fn json_error_body<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let message = match status.as_u16() {
        404 => "Not found.".to_owned(),
        405 => "Method not allowed.".to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed.")
            .to_owned(),
    };
    let (req, original) = res.into_parts();
    let mut replacement = HttpResponse::build(status);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.insert_header((name.clone(), value.clone()));
        }
    }
    let replacement: HttpResponse<BoxBody> = replacement.json(json!({ "message": message }));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, replacement).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    use super::*;

    #[actix_web::test]
    async fn a_panicking_handler_is_answered_500_json_with_its_request_id() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_span))
                .service(
                    web::resource("/boom")
                        .route(web::get().to(|| async {
                            if std::hint::black_box(true) {
                                panic!("boom");
                            }
                            HttpResponse::Ok().finish()
                        }))
                        .wrap(from_fn(catch_panics)),
                )
                .service(
                    web::resource("/fine")
                        .route(web::get().to(HttpResponse::Ok))
                        .wrap(from_fn(catch_panics)),
                ),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/boom")
            .insert_header((REQUEST_ID, "req-123"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get(REQUEST_ID).unwrap(), "req-123");
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body, json!({"message": "Internal server error."}));
        // The worker goes on answering.
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), 200);
    }
}

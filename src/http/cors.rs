//! CORS for the cancel flow's routes, so that a browser (the widget, with a session
//! token) can call them from the organization's own pages.
//!
//! - A preflight (`OPTIONS`) carries no credentials, so the organization is unknown: it is
//!   answered 204 for any origin that could be listed (echoed), and the actual request is
//!   where the organization's `allowed_origins` is enforced.
//! - An actual request with an `Origin` header is checked once the caller is authenticated
//!   (key or session, in the `Caller` extractor): an origin the organization does not list is
//!   refused 403 before anything is recorded; an allowed one is echoed in
//!   `Access-Control-Allow-Origin` on whatever the route answers, errors included.
//! - Answers given before the organization is known (401, a 429 of the key or session, a body
//!   the extractor refuses first) carry no `Access-Control-Allow-Origin`: whether the origin
//!   is allowed is not known then. No cookies: never `Access-Control-Allow-Credentials`.
//! - Requests without `Origin` (server to server) are not touched.
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use super::errors::ApiError;
use crate::actors::offer_selector::OriginAllowed;
use crate::actors::Actors;
use crate::domain::origin::is_listable;

/// The routes a browser may call: the cancel flow's four, and the card-update page.
pub const CORS_PATHS: [&str; 5] = [
    "/api/v1/intercept",
    "/api/v1/intercept/outcome",
    "/api/v1/intercept/apply-offer",
    "/api/v1/intercept/sentiment",
    "/api/v1/intercept/update-card",
];

/// What a preflight allows: the method, the request headers the cancel flow takes from a
/// browser (the session token and a JSON body; never `X-Knot-Key`, a secret that must not
/// reach a browser), and how long the browser may keep the answer.
pub const ALLOW_METHODS: &str = "POST";
pub const ALLOW_HEADERS: &str = "authorization, content-type";
pub const MAX_AGE_SECONDS: &str = "600";
/// Answer headers a browser script may read besides the safelisted ones.
pub const EXPOSE_HEADERS: &str = "retry-after, x-request-id";

/// Set on the request once its origin is known to be allowed for the caller's organization.
#[derive(Debug, Clone)]
struct AllowedOrigin(HeaderValue);

/// Checks a cancel-flow request's `Origin` against the organization's `allowed_origins`
/// (from the OfferSelector's cached catalog). Without `Origin` nothing is checked.
pub async fn check_origin(
    req: &HttpRequest,
    actors: &Actors,
    organization_id: i64,
) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(origin.as_bytes()).into_owned();
    let allowed = actors
        .offers
        .send(OriginAllowed {
            organization_id,
            origin: text.clone(),
        })
        .await??;
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "Origin {text} is not allowed for this organization."
        )));
    }
    req.extensions_mut().insert(AllowedOrigin(origin));
    Ok(())
}

/// Wraps each of the cancel flow's resources: answers preflights, and adds
/// `Access-Control-Allow-Origin` to answers whose origin the route found allowed.
pub async fn cancel_flow_cors<B: MessageBody>(
    req: ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if req.method() == Method::OPTIONS {
        let answer = preflight(req.request());
        return Ok(req.into_response(answer).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let allowed = res.request().extensions().get::<AllowedOrigin>().cloned();
    if let Some(AllowedOrigin(origin)) = allowed {
        let headers = res.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res.map_into_left_body())
}

/// 204 for an `OPTIONS` request. A CORS preflight from an origin an organization could list
/// gets that origin echoed with the methods and headers allowed; another origin (`null`, a
/// malformed one) gets none, which the browser takes as a refusal.
fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut answer = HttpResponse::NoContent();
    answer
        .insert_header((header::ALLOW, "POST, OPTIONS"))
        .insert_header((header::VARY, "Origin"));
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|origin| origin.to_str().is_ok_and(is_listable));
    if let Some(origin) = origin {
        answer
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS));
    }
    answer.finish()
}

//! Stripe's webhooks: the organization's endpoint and signing secrets (key-authenticated),
//! and the endpoint Stripe posts events to (authenticated by Stripe's signature).
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::actors::stripe_inbox::{Delivery, FindEndpoint, ManageStripeWebhook};
use crate::actors::Actors;
use crate::domain::{stripe_event, stripe_signature};
use crate::http::docs::{
    BodyErrors, KeyedErrors, Message, StripeEventReceived, WebhookEndpoint, WebhookSecret,
    WebhookSecretList, WebhookSecretRequest,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// Stripe's events may be large (an invoice with many lines): this route reads up to 1 MiB,
/// whatever `server.max_body_bytes` says for the rest of the API.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Where the endpoint is: `/api/v1/stripe/webhooks/{endpoint_id}`.
pub fn webhook_path(endpoint_id: &str) -> String {
    format!("/api/v1/stripe/webhooks/{endpoint_id}")
}

/// An endpoint id as the store makes them (`we_` and 32 hex digits): anything else names
/// nothing, and is answered without a query.
fn is_endpoint_id(raw: &str) -> bool {
    is_hex_id(raw, "we_", 32)
}

/// `prefix` followed by `digits` hex digits.
fn is_hex_id(raw: &str, prefix: &str, digits: usize) -> bool {
    raw.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == digits && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn message(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "message": text }))
}

/// Receives one of Stripe's events. Answered 200 once the event is stored (and applied);
/// a redelivery is answered 200 and changes nothing.
#[utoipa::path(post, path = "/api/v1/stripe/webhooks/{endpoint_id}", operation_id = "receive_stripe_event", tag = "stripe", security(()),
    params(("endpoint_id" = String, Path, description = "The organization's endpoint id (`GET /api/v1/stripe/webhook-endpoint`)."),
        ("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`, as Stripe signs.")),
    request_body(content = Object, description = "A Stripe `event` object, exactly as Stripe sends it.", content_type = "application/json"),
    responses((status = 200, description = "Stored (or stored before).", body = StripeEventReceived),
        (status = 400, description = "The signature is missing, unreadable, wrong or more than 300 s old.", body = Message),
        (status = 404, description = "No such endpoint.", body = Message),
        (status = 413, description = "The body is larger than 1 MiB.", body = Message),
        (status = 415, description = "The body is not `application/json`.", body = Message),
        (status = 422, description = "Signed, but not a Stripe event (no `id`, `type`, `created` or `data.object`).", body = Message)))]
pub async fn receive(
    endpoint_id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    if !is_endpoint_id(&endpoint_id) {
        return Err(ApiError::NotFound("No such webhook endpoint.".into()));
    }
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Ok(message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json.",
        ));
    }
    // The raw bytes as received: the signature covers them, never a re-serialization.
    let Ok(body) = payload.to_bytes_limited(MAX_EVENT_BYTES).await else {
        return Ok(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("The request body must not be larger than {MAX_EVENT_BYTES} bytes."),
        ));
    };
    let body =
        body.map_err(|_| ApiError::BadRequest("The request body could not be read.".into()))?;
    // The shared cache first: a message to the StripeInbox only when it misses.
    let keys = match actors.known_stripe_endpoints.find(&endpoint_id) {
        Some(keys) => keys,
        None => {
            actors
                .stripe_inbox
                .send(FindEndpoint(endpoint_id.into_inner()))
                .await??
        }
    };
    let Some((organization_id, secrets)) = keys else {
        return Err(ApiError::NotFound("No such webhook endpoint.".into()));
    };
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .map(|v| v.to_str().unwrap_or(""));
    stripe_signature::verify(signature, &body, &secrets, actors.clock.now())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let event = stripe_event::parse(&body).map_err(|message| ApiError::Unprocessable {
        message,
        detail: None,
    })?;
    let delivery = actors.stripe_events.receive(organization_id, event).await?;
    Ok(HttpResponse::Ok().json(json!({
        "received": true,
        "duplicate": delivery == Delivery::Duplicate,
    })))
}

/// The organization's webhook endpoint (created on first request) and its URL, to enter in
/// Stripe's dashboard.
#[utoipa::path(get, path = "/api/v1/stripe/webhook-endpoint", operation_id = "get_stripe_webhook_endpoint", tag = "stripe", security(("api_key" = [])),
    responses((status = 200, description = "The endpoint; the same every time.", body = WebhookEndpoint), KeyedErrors))]
pub async fn endpoint(
    tenant: Tenant,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let answer = actors
        .stripe_inbox
        .send(ManageStripeWebhook::Endpoint {
            organization_id: tenant.organization_id,
        })
        .await??;
    let id = answer["endpoint_id"].as_str().unwrap_or_default();
    let path = webhook_path(id);
    let info = req.connection_info();
    let url = format!("{}://{}{path}", info.scheme(), info.host());
    Ok(HttpResponse::Ok().json(json!({"endpoint_id": id, "path": path, "url": url})))
}

/// Stores a signing secret from Stripe's dashboard (`whsec_…`; at most two active, for a
/// rotation). It is sealed at rest and never shown again.
#[utoipa::path(post, path = "/api/v1/stripe/webhook-secrets", operation_id = "create_stripe_webhook_secret", tag = "stripe", security(("api_key" = [])),
    request_body = WebhookSecretRequest,
    responses((status = 201, description = "Stored; the secret itself is never answered.", body = WebhookSecret),
        BodyErrors, KeyedErrors))]
pub async fn add_secret(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let secret = stripe_signature::secret_from_body(&body)?;
    let stored = actors
        .stripe_inbox
        .send(ManageStripeWebhook::AddSecret {
            organization_id: tenant.organization_id,
            secret,
        })
        .await??;
    Ok(HttpResponse::Created().json(stored))
}

/// The organization's webhook signing secrets, newest first, without the secrets.
#[utoipa::path(get, path = "/api/v1/stripe/webhook-secrets", operation_id = "list_stripe_webhook_secrets", tag = "stripe", security(("api_key" = [])),
    responses((status = 200, description = "Newest first.", body = WebhookSecretList), KeyedErrors))]
pub async fn list_secrets(
    tenant: Tenant,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let list = actors
        .stripe_inbox
        .send(ManageStripeWebhook::ListSecrets {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(list))
}

/// Revokes a webhook signing secret: events signed with it only are refused from then on
/// (within the cache TTL on other instances).
#[utoipa::path(delete, path = "/api/v1/stripe/webhook-secrets/{id}", operation_id = "revoke_stripe_webhook_secret", tag = "stripe", security(("api_key" = [])),
    params(("id" = String, Path, description = "The secret's id (`whk_…`).")),
    responses((status = 200, description = "Revoked.", body = Message),
        (status = 404, description = "No active secret with this id.", body = Message), KeyedErrors))]
pub async fn revoke_secret(
    tenant: Tenant,
    id: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !is_hex_id(&id, "whk_", 16) {
        return Err(ApiError::NotFound(format!(
            "No active webhook signing secret {id}."
        )));
    }
    let revoked = actors
        .stripe_inbox
        .send(ManageStripeWebhook::RevokeSecret {
            organization_id: tenant.organization_id,
            id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(revoked))
}

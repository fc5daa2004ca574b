//! End-user sessions: the organization's signing secrets, and session tokens signed for
//! teams without a JWT library.
use actix_web::{web, HttpResponse};
use chrono::Utc;

use crate::actors::session_desk::{ManageSigningSecrets, SignSession};
use crate::actors::Actors;
use crate::domain::session::{claims_from_body, is_kid};
use crate::http::docs::{
    BodyErrors, KeyedErrors, Message, SessionRequest, SessionToken, SigningSecret,
    SigningSecretList,
};
use crate::http::errors::ApiError;
use crate::http::extract::{JsonObject, Tenant};

/// Creates a signing secret (at most two active, for a rotation). The secret is shown once.
#[utoipa::path(post, path = "/api/v1/signing-secrets", operation_id = "create_signing_secret", tag = "sessions", security(("api_key" = [])),
    responses((status = 201, description = "Created; `secret` is shown this once.", body = SigningSecret),
        (status = 422, description = "Two secrets are active already: revoke one first.", body = Message), KeyedErrors))]
pub async fn create_secret(
    tenant: Tenant,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let created = actors
        .sessions
        .send(ManageSigningSecrets::Create {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Created().json(created))
}

/// The organization's signing secrets, without the secrets.
#[utoipa::path(get, path = "/api/v1/signing-secrets", operation_id = "list_signing_secrets", tag = "sessions", security(("api_key" = [])),
    responses((status = 200, description = "Newest first.", body = SigningSecretList), KeyedErrors))]
pub async fn list_secrets(
    tenant: Tenant,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let secrets = actors
        .sessions
        .send(ManageSigningSecrets::List {
            organization_id: tenant.organization_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(secrets))
}

/// Revokes a signing secret: tokens it signed are refused from then on (within the cache
/// TTL on other instances).
#[utoipa::path(delete, path = "/api/v1/signing-secrets/{kid}", operation_id = "revoke_signing_secret", tag = "sessions", security(("api_key" = [])),
    params(("kid" = String, Path, description = "The secret's `kid`.")),
    responses((status = 200, description = "Revoked.", body = Message),
        (status = 404, description = "No active secret with this kid.", body = Message), KeyedErrors))]
pub async fn revoke_secret(
    tenant: Tenant,
    kid: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    if !is_kid(&kid) {
        return Err(ApiError::NotFound(format!(
            "No active signing secret {kid}."
        )));
    }
    let revoked = actors
        .sessions
        .send(ManageSigningSecrets::Revoke {
            organization_id: tenant.organization_id,
            kid: kid.into_inner(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(revoked))
}

/// Signs a session token for one end user with the organization's newest signing secret.
#[utoipa::path(post, path = "/api/v1/sessions", operation_id = "create_session", tag = "sessions", security(("api_key" = [])),
    request_body = SessionRequest,
    responses((status = 201, description = "The token, for the browser.", body = SessionToken), BodyErrors, KeyedErrors))]
pub async fn create_session(
    tenant: Tenant,
    JsonObject(body): JsonObject,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let claims = claims_from_body(&body, Utc::now())?;
    let token = actors
        .sessions
        .send(SignSession {
            organization_id: tenant.organization_id,
            claims,
        })
        .await??;
    Ok(HttpResponse::Created().json(token))
}

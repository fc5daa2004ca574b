//! The operator's bearer token (`admin.token`), checked in constant time.
use std::future::{ready, Ready};

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use crate::config::Settings;

/// Shortest operator token accepted at start-up.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// Whether the request carries `Authorization: Bearer <expected>`. Both sides are hashed
/// before the constant-time comparison, so neither the token nor its length leaks through
/// timing.
pub fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    let Some(presented) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
    else {
        return false;
    };
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.ct_eq(&expected).into()
}

/// An authenticated operator. Extracting it answers 404 when the operator API is disabled
/// (no `admin.token`), and 401 when the token is missing or wrong. An organization's API key
/// never passes.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Operator, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .app_data::<web::Data<Settings>>()
            .map(|s| s.admin.token.clone())
            .unwrap_or_default();
        ready(if token.is_empty() {
            Err(ApiError::NotFound("Not found.".into()))
        } else if bearer_matches(req, &token) {
            Ok(Operator)
        } else {
            Err(ApiError::BearerUnauthorized)
        })
    }
}

/// Refuses to start with an operator token that is too short to resist guessing.
pub fn check_admin_token(settings: &Settings) -> anyhow::Result<()> {
    let token = &settings.admin.token;
    anyhow::ensure!(
        token.is_empty() || token.chars().count() >= MIN_ADMIN_TOKEN_LEN,
        "admin.token must be at least {MIN_ADMIN_TOKEN_LEN} characters (try `openssl rand -hex 32`), or empty to disable the operator API"
    );
    Ok(())
}

//! Who calls the cancel flow: the organization with its API key (a backend), or one end user
//! with a session token the organization signed (a browser). Only the cancel flow's four
//! routes take the second; identity then comes from the token, never from the body.
use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::cors::check_origin;
use super::errors::ApiError;
use super::extract::{Tenant, KEY_HEADER};
use super::rate_limit::{retry_after_seconds, RateLimiter, Verdict};
use crate::actors::session_desk::{OpenSession, SessionOffer};
use crate::actors::Actors;
use crate::domain::session::Session;
use crate::domain::{Email, Mrr};

/// The caller of a cancel-flow route.
#[derive(Debug, Clone)]
pub enum Caller {
    Organization(Tenant),
    EndUser {
        organization_id: i64,
        session: Session,
    },
}

impl Caller {
    pub fn organization_id(&self) -> i64 {
        match self {
            Caller::Organization(tenant) => tenant.organization_id,
            Caller::EndUser {
                organization_id, ..
            } => *organization_id,
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            Caller::Organization(_) => None,
            Caller::EndUser { session, .. } => Some(session),
        }
    }
}

/// The token of `Authorization: Bearer <token>`, if the request carries one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    /// Authenticates the caller, then checks the request's `Origin` (if any) against the
    /// organization's allowed origins (`super::cors`): same rule for a key and a session.
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let actors = req.app_data::<web::Data<Actors>>().cloned();
        let request = req.clone();
        if req.headers().contains_key(KEY_HEADER) || token.is_none() {
            let tenant = Tenant::from_request(req, payload);
            return Box::pin(async move {
                let tenant = tenant.await?;
                if let Some(actors) = actors {
                    check_origin(&request, &actors, tenant.organization_id).await?;
                }
                Ok(Caller::Organization(tenant))
            });
        }
        let token = token.unwrap_or_default();
        let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
        let route = req.match_pattern();
        Box::pin(async move {
            let actors = actors
                .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("actors not configured")))?;
            // A token whose secret is cached is opened here, on this worker; the SessionDesk
            // is asked only to load a secret.
            let opened = match actors.known_signing_keys.open(&token) {
                Some(opened) => opened,
                None => actors.sessions.send(OpenSession(token)).await??,
            }
            .map_err(ApiError::SessionRefused)?;
            // A session has a bucket of its own, and an organization's sessions share one, so
            // that neither one browser nor a crowd of them can starve the organization's key.
            if let Some(limiter) = limiter {
                for bucket in [
                    format!("session:{}", opened.session.id),
                    format!("sessions:{}", opened.organization_id),
                ] {
                    if let Verdict::Limited(wait) = limiter.check(&bucket).await {
                        crate::metrics::rate_limited(route.as_deref().unwrap_or("unmatched"));
                        return Err(ApiError::TooManyRequests(retry_after_seconds(wait)));
                    }
                }
            }
            tracing::Span::current().record("org", opened.organization_id);
            check_origin(&request, &actors, opened.organization_id).await?;
            Ok(Caller::EndUser {
                organization_id: opened.organization_id,
                session: opened.session,
            })
        })
    }
}

/// What a body says about the end user, checked against the session: a field may be absent
/// or equal to the token's, never different (403, nothing recorded).
#[derive(Debug, Default)]
pub struct Claimed<'a> {
    pub email: Option<&'a Email>,
    pub stripe_customer_id: Option<&'a str>,
    pub stripe_subscription_id: Option<&'a str>,
    pub mrr: Option<Mrr>,
}

pub fn check_claims(session: &Session, claimed: &Claimed<'_>) -> Result<(), ApiError> {
    let differs = |field: &str| {
        Err(ApiError::Forbidden(format!(
            "The {field} field does not match the session."
        )))
    };
    if claimed.email.is_some() && claimed.email != session.email.as_ref() {
        return differs("user_email");
    }
    if claimed.stripe_customer_id.is_some()
        && claimed.stripe_customer_id != session.stripe_customer_id.as_deref()
    {
        return differs("stripe_customer_id");
    }
    if claimed.stripe_subscription_id.is_some()
        && claimed.stripe_subscription_id != session.stripe_subscription_id.as_deref()
    {
        return differs("stripe_subscription_id");
    }
    if claimed.mrr.is_some() && claimed.mrr != session.mrr {
        return differs("mrr_value");
    }
    Ok(())
}

/// The offer ids of an answer's `offers` (JSON text), for the session's record.
pub fn offer_ids(offers: &str) -> Vec<i64> {
    #[derive(serde::Deserialize)]
    struct Shown {
        id: i64,
    }
    serde_json::from_str::<Vec<Shown>>(offers)
        .map(|shown| shown.into_iter().map(|s| s.id).collect())
        .unwrap_or_default()
}

/// Notes what a session was shown: an outcome or application that follows must find it.
pub fn remember_shown(actors: &Actors, organization_id: i64, session: &Session, offers: &str) {
    actors.session_ledger.shown(
        organization_id,
        &session.id,
        session.expires_at,
        offer_ids(offers),
    );
}

/// Refuses an offer the session was not shown.
pub async fn require_shown(
    actors: &Actors,
    session: &Session,
    offer_id: i64,
) -> Result<(), ApiError> {
    let shown = actors.session_ledger.recently_shown(&session.id, offer_id)
        || actors
            .sessions
            .send(SessionOffer::WasShown {
                session_id: session.id.clone(),
                offer_id,
            })
            .await??;
    if shown {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "Offer {offer_id} was not shown in this session."
        )))
    }
}

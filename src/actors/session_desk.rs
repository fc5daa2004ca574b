//! SessionDesk: opens end-user session tokens (the signing secret a `kid` names, cached for
//! the cache TTL, so that a revocation elsewhere holds within it), manages organizations'
//! signing secrets, and keeps what a session was shown and which offer it applied.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};

use super::{guard, guard_act, Failure, MAILBOX_CAPACITY};
use crate::domain::session::{self, Session, SessionRefused};
use crate::store::secrets::SecretBox;
use crate::store::sessions::{self as store, SecretRefused, Shown, ShownOffers, SigningKey};

/// Bounds memory when clients send many distinct `kid`s.
const MAX_CACHED_SECRETS: usize = 10_000;

pub struct SessionDesk {
    db: DatabaseConnection,
    secrets: SecretBox,
    ttl: Duration,
    /// `kid` → its secret (None: no such secret), as loaded at that instant.
    known: HashMap<String, (Option<SigningKey>, Instant)>,
    shown: Arc<ShownOffers>,
}

impl SessionDesk {
    pub fn new(db: DatabaseConnection, secrets: SecretBox, ttl: Duration) -> Self {
        SessionDesk {
            shown: Arc::new(ShownOffers::start(db.clone())),
            db,
            secrets,
            ttl,
            known: HashMap::new(),
        }
    }
}

impl Actor for SessionDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// A session opened from a token: its organization and end user.
#[derive(Debug, Clone)]
pub struct OpenedSession {
    pub organization_id: i64,
    pub session: Session,
}

/// Verifies a presented token.
#[derive(Message)]
#[rtype(result = "Result<Result<OpenedSession, SessionRefused>, Failure>")]
pub struct OpenSession(pub String);

fn open(token: &str, key: Option<&SigningKey>) -> Result<OpenedSession, SessionRefused> {
    let key = key
        .filter(|k| !k.revoked)
        .ok_or(SessionRefused::UnknownKid)?;
    let session = session::verify(token, key.secret.as_bytes(), Utc::now())?;
    Ok(OpenedSession {
        organization_id: key.organization_id,
        session,
    })
}

impl Handler<OpenSession> for SessionDesk {
    type Result = ResponseActFuture<Self, Result<Result<OpenedSession, SessionRefused>, Failure>>;

    fn handle(&mut self, OpenSession(token): OpenSession, _: &mut Self::Context) -> Self::Result {
        let kid = match session::signing_kid(&token) {
            Ok(kid) => kid,
            Err(refused) => return guard_act(fut::ready(Ok(Err(refused)))),
        };
        if let Some((key, loaded_at)) = self.known.get(&kid) {
            if loaded_at.elapsed() < self.ttl {
                return guard_act(fut::ready(Ok(open(&token, key.as_ref()))));
            }
        }
        let (db, secrets, wanted) = (self.db.clone(), self.secrets.clone(), kid.clone());
        let load = async move { store::find_key(&db, &secrets, &wanted).await };
        guard_act(fut::wrap_future(load).map(move |key, act: &mut Self, _| {
            let key = key?;
            let answer = open(&token, key.as_ref());
            if act.known.len() >= MAX_CACHED_SECRETS {
                act.known.clear();
            }
            act.known.insert(kid, (key, Instant::now()));
            Ok(answer)
        }))
    }
}

/// The signing secrets API (and the CLI's).
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageSigningSecrets {
    Create { organization_id: i64 },
    List { organization_id: i64 },
    Revoke { organization_id: i64, kid: String },
}

impl Handler<ManageSigningSecrets> for SessionDesk {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageSigningSecrets, _: &mut Self::Context) -> Self::Result {
        let (db, secrets) = (self.db.clone(), self.secrets.clone());
        match msg {
            ManageSigningSecrets::Create { organization_id } => {
                guard_act(fut::wrap_future(async move {
                    let created = store::create_secret(&db, &secrets, organization_id)
                        .await
                        .map_err(|e| match e {
                            SecretRefused::TooMany => Failure::Refused(e.to_string()),
                            SecretRefused::Unexpected(e) => Failure::Unexpected(e),
                        })?;
                    Ok(json!({
                        "kid": created.kid,
                        "secret": created.secret,
                        "created_at": created.created_at,
                        "active": true,
                    }))
                }))
            }
            ManageSigningSecrets::List { organization_id } => {
                guard_act(fut::wrap_future(async move {
                    Ok(store::list_secrets(&db, organization_id).await?)
                }))
            }
            ManageSigningSecrets::Revoke {
                organization_id,
                kid,
            } => {
                let forget = kid.clone();
                guard_act(
                    fut::wrap_future(async move {
                        if store::revoke_secret(&db, organization_id, &kid).await? {
                            Ok(json!({"message": "Revoked."}))
                        } else {
                            Err(Failure::NotFound(format!(
                                "No active signing secret {kid}."
                            )))
                        }
                    })
                    .map(move |result, act: &mut Self, _| {
                        // Revocations through this process hold at once.
                        act.known.remove(&forget);
                        result
                    }),
                )
            }
        }
    }
}

/// Signs claims with the organization's newest secret (`POST /sessions`).
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub struct SignSession {
    pub organization_id: i64,
    pub claims: Map<String, Value>,
}

impl Handler<SignSession> for SessionDesk {
    type Result = ResponseFuture<Result<Value, Failure>>;

    fn handle(&mut self, msg: SignSession, _: &mut Self::Context) -> Self::Result {
        let (db, secrets) = (self.db.clone(), self.secrets.clone());
        guard(async move {
            let key = store::newest_key(&db, &secrets, msg.organization_id)
                .await?
                .ok_or_else(|| {
                    Failure::Refused(
                        "The organization has no active signing secret: create one first.".into(),
                    )
                })?;
            let token = session::sign(&msg.claims, &key.kid, key.secret.as_bytes());
            let expires_at = msg
                .claims
                .get("exp")
                .and_then(Value::as_i64)
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
            Ok(json!({"token": token, "kid": key.kid, "expires_at": expires_at}))
        })
    }
}

/// What a session may do with an offer.
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub enum SessionOffer {
    /// Notes the offers shown to the session (answers true).
    Shown {
        organization_id: i64,
        session_id: String,
        expires_at: DateTime<Utc>,
        offer_ids: Vec<i64>,
    },
    /// Whether the session was shown the offer.
    WasShown { session_id: String, offer_id: i64 },
    /// Claims the session's one application (false: it applied another offer).
    Claim {
        organization_id: i64,
        session_id: String,
        offer_id: i64,
        expires_at: DateTime<Utc>,
    },
    /// Gives a claim back after Stripe refused the change (answers true).
    Release { session_id: String, offer_id: i64 },
}

impl Handler<SessionOffer> for SessionDesk {
    type Result = ResponseFuture<Result<bool, Failure>>;

    fn handle(&mut self, msg: SessionOffer, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let shown = self.shown.clone();
        guard(async move {
            Ok(match msg {
                SessionOffer::Shown {
                    organization_id,
                    session_id,
                    expires_at,
                    offer_ids,
                } => {
                    shown
                        .remember(Shown {
                            organization_id,
                            session_id,
                            expires_at,
                            offer_ids,
                        })
                        .await?;
                    true
                }
                SessionOffer::WasShown {
                    session_id,
                    offer_id,
                } => store::was_shown(&db, &session_id, offer_id).await?,
                SessionOffer::Claim {
                    organization_id,
                    session_id,
                    offer_id,
                    expires_at,
                } => {
                    store::claim_application(
                        &db,
                        organization_id,
                        &session_id,
                        offer_id,
                        expires_at,
                    )
                    .await?
                }
                SessionOffer::Release {
                    session_id,
                    offer_id,
                } => {
                    store::release_application(&db, &session_id, offer_id).await?;
                    true
                }
            })
        })
    }
}

//! SessionDesk: opens end-user session tokens (the signing secret a `kid` names, cached for
//! the cache TTL, so that a revocation elsewhere holds within it), manages organizations'
//! signing secrets, and keeps what a session was shown and which offer it applied.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::{json, Map, Value};

use super::{guard, guard_act, Failure, MAILBOX_CAPACITY};
use crate::domain::session::{self, Session, SessionRefused};
use crate::store::database::WriteTurns;
use crate::store::secrets::SecretBox;
use crate::store::sessions::{self as store, SecretRefused, Shown, ShownOffers, SigningKey};

/// Bounds memory when clients send many distinct `kid`s.
const MAX_CACHED_SECRETS: usize = 10_000;

pub struct SessionDesk {
    db: DatabaseConnection,
    secrets: SecretBox,
    known: KnownSigningKeys,
    ledger: SessionLedger,
}

/// What sessions were shown, shared with the HTTP workers: an intercept or a reason notes its
/// offers here without a message (the write goes on in the background, batched), and an
/// outcome or application that follows through this process finds them at once; other
/// processes read the database, where the write lands within a batch, milliseconds, long
/// before an end user's next click.
#[derive(Clone)]
pub struct SessionLedger {
    recent: Arc<Mutex<RecentlyShown>>,
    shown: Arc<ShownOffers>,
}

impl SessionLedger {
    /// Notes the offers shown to a session, and stores them in the background.
    pub fn shown(
        &self,
        organization_id: i64,
        session_id: &str,
        expires_at: DateTime<Utc>,
        offer_ids: Vec<i64>,
    ) {
        // Only what this process has not noted for the session yet is written: a session that
        // asks again (a second intercept, its reason) costs no write for the same offers.
        let offer_ids = self
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note(session_id, &offer_ids);
        if offer_ids.is_empty() {
            return;
        }
        let shown = self.shown.clone();
        let session_id = session_id.to_owned();
        tokio::spawn(async move {
            let write = shown.remember(Shown {
                organization_id,
                session_id,
                expires_at,
                offer_ids,
            });
            if let Err(error) = write.await {
                tracing::warn!(error = %format!("{error:#}"), "the offers a session was shown were not stored");
            }
        });
    }

    /// Whether this process noted the offer for the session lately (false: ask the database).
    pub fn recently_shown(&self, session_id: &str, offer_id: i64) -> bool {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .has(session_id, offer_id)
    }
}

/// Offers shown through this process lately, by session: what an outcome or application that
/// follows finds at once, while the write is in flight. Bounded; the database stays the
/// record (and what other processes read).
#[derive(Default)]
struct RecentlyShown {
    sessions: HashMap<String, (Vec<i64>, Instant)>,
}

/// Sessions remembered at most, and for how long.
const RECENT_SESSIONS: usize = 100_000;
const RECENT_FOR: Duration = Duration::from_secs(600);

impl RecentlyShown {
    /// Notes the offers and answers those that were new for the session.
    fn note(&mut self, session_id: &str, offer_ids: &[i64]) -> Vec<i64> {
        if self.sessions.len() >= RECENT_SESSIONS && !self.sessions.contains_key(session_id) {
            self.sessions.retain(|_, (_, at)| at.elapsed() < RECENT_FOR);
            if self.sessions.len() >= RECENT_SESSIONS {
                self.sessions.clear();
            }
        }
        let (offers, at) = self
            .sessions
            .entry(session_id.to_owned())
            .or_insert_with(|| (Vec::new(), Instant::now()));
        *at = Instant::now();
        let mut new = Vec::new();
        for id in offer_ids {
            if !offers.contains(id) {
                offers.push(*id);
                new.push(*id);
            }
        }
        new
    }

    fn has(&self, session_id: &str, offer_id: i64) -> bool {
        self.sessions
            .get(session_id)
            .is_some_and(|(offers, at)| at.elapsed() < RECENT_FOR && offers.contains(&offer_id))
    }
}

/// A signing secret as loaded (None: no such secret), and when.
type LoadedKey = (Option<SigningKey>, Instant);

/// Signing secrets by `kid` (None: no such secret), as loaded at that instant and kept for the
/// cache TTL. Shared with the HTTP workers, which open a token whose secret is cached
/// themselves, without a message: checking a signature then costs the actors' thread nothing.
#[derive(Clone)]
pub struct KnownSigningKeys {
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, LoadedKey>>>,
}

impl KnownSigningKeys {
    fn new(ttl: Duration) -> Self {
        KnownSigningKeys {
            ttl,
            entries: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Opens the token if its `kid`'s secret (or its absence) is cached and fresh; None when
    /// the SessionDesk must look the secret up (`OpenSession`).
    pub fn open(&self, token: &str) -> Option<Result<OpenedSession, SessionRefused>> {
        let kid = match session::signing_kid(token) {
            Ok(kid) => kid,
            Err(refused) => return Some(Err(refused)),
        };
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (key, loaded_at) = entries.get(&kid)?;
        (loaded_at.elapsed() < self.ttl).then(|| open(token, key.as_ref()))
    }

    fn remember(&self, kid: String, key: Option<SigningKey>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_SECRETS {
            entries.clear();
        }
        entries.insert(kid, (key, Instant::now()));
    }

    fn forget(&self, kid: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(kid);
    }
}

impl SessionDesk {
    /// What sessions were shown, for the HTTP workers.
    pub fn session_ledger(&self) -> SessionLedger {
        self.ledger.clone()
    }

    /// The signing secrets this desk has loaded, for the HTTP workers.
    pub fn known_signing_keys(&self) -> KnownSigningKeys {
        self.known.clone()
    }

    pub fn new(
        db: DatabaseConnection,
        turns: WriteTurns,
        secrets: SecretBox,
        ttl: Duration,
    ) -> Self {
        SessionDesk {
            ledger: SessionLedger {
                recent: Arc::new(Mutex::new(RecentlyShown::default())),
                shown: Arc::new(ShownOffers::start(db.clone(), turns)),
            },
            db,
            secrets,
            known: KnownSigningKeys::new(ttl),
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
        if let Some(opened) = self.known.open(&token) {
            return guard_act(fut::ready(Ok(opened)));
        }
        let kid = match session::signing_kid(&token) {
            Ok(kid) => kid,
            Err(refused) => return guard_act(fut::ready(Ok(Err(refused)))),
        };
        let (db, secrets, wanted) = (self.db.clone(), self.secrets.clone(), kid.clone());
        let load = async move { store::find_key(&db, &secrets, &wanted).await };
        guard_act(fut::wrap_future(load).map(move |key, act: &mut Self, _| {
            let key = key?;
            let answer = open(&token, key.as_ref());
            act.known.remember(kid, key);
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
                        act.known.forget(&forget);
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
            // Each signing is a session of its own, even for the same claims in the same
            // second (a session is known by its token's signature).
            let mut claims = msg.claims;
            claims.insert("jti".into(), hex::encode(rand::random::<[u8; 16]>()).into());
            let token = session::sign(&claims, &key.kid, key.secret.as_bytes());
            let expires_at = claims
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

    /// `WasShown` reads the database: the HTTP workers ask this desk only after the shared
    /// ledger (`SessionLedger::recently_shown`) did not know the offer.
    fn handle(&mut self, msg: SessionOffer, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            Ok(match msg {
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

//! KeyVerifier: which organization an API key belongs to, cached so that a request does not
//! read the database to authenticate. Entries expire after the cache TTL, so a key revoked
//! from another process stops working within that time; revocations in this process apply
//! at once.
//!
//! The verifier owns the cache and is its only writer; HTTP workers read it through
//! `KnownKeys` without a message, so a request with a known key does not cross threads to
//! be authenticated. Only a miss (or an expired entry) goes to the actor.
use crate::actors::guard_act;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use entity::api_key;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::ApiKey;

/// Bounds memory when clients send many distinct keys.
const MAX_CACHED_KEYS: usize = 100_000;

#[derive(Clone)]
struct CachedKey {
    hash: String,
    organization_id: i64,
    revoked: bool,
    loaded_at: Instant,
}

/// The verifier's cache, readable from any thread.
#[derive(Clone)]
pub struct KnownKeys {
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, CachedKey>>>,
}

impl KnownKeys {
    /// The key's organization from memory: `Some(answer)` when the cache knows the key and
    /// its entry is fresh (the answer is None for a revoked or wrong key), None otherwise.
    pub fn verdict(&self, key: &ApiKey) -> Option<Option<i64>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key.prefix())?;
        (entry.loaded_at.elapsed() < self.ttl).then(|| verdict(entry, key))
    }

    fn insert(&self, prefix: String, entry: CachedKey) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(prefix, entry);
    }

    fn remove(&self, prefix: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.remove(prefix);
    }
}

pub struct KeyVerifier {
    db: DatabaseConnection,
    cache: KnownKeys,
}

impl KeyVerifier {
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        KeyVerifier {
            db,
            cache: KnownKeys {
                ttl,
                entries: Arc::default(),
            },
        }
    }

    /// The cache, for the HTTP workers to read.
    pub fn known_keys(&self) -> KnownKeys {
        self.cache.clone()
    }
}

impl Actor for KeyVerifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// Resolves a presented key to its organization; None when unknown or revoked.
#[derive(Message)]
#[rtype(result = "Result<Option<i64>, Failure>")]
pub struct Authenticate(pub ApiKey);

fn verdict(entry: &CachedKey, key: &ApiKey) -> Option<i64> {
    (!entry.revoked && key.matches(&entry.hash)).then_some(entry.organization_id)
}

impl Handler<Authenticate> for KeyVerifier {
    type Result = ResponseActFuture<Self, Result<Option<i64>, Failure>>;

    fn handle(&mut self, Authenticate(key): Authenticate, _: &mut Self::Context) -> Self::Result {
        if let Some(answer) = self.cache.verdict(&key) {
            return guard_act(fut::ready(Ok(answer)));
        }
        let db = self.db.clone();
        let prefix = key.prefix().to_owned();
        let load = async move {
            api_key::Entity::find()
                .filter(api_key::Column::Prefix.eq(prefix))
                .one(&db)
                .await
        };
        guard_act(fut::wrap_future(load).map(move |row, act: &mut Self, _| {
            let row = row?;
            let Some(row) = row else { return Ok(None) };
            let entry = CachedKey {
                hash: row.key_hash,
                organization_id: row.organization_id,
                revoked: row.revoked_at.is_some(),
                loaded_at: Instant::now(),
            };
            let answer = verdict(&entry, &key);
            act.cache.insert(row.prefix, entry);
            Ok(answer)
        }))
    }
}

/// Drops a key from the cache (after a revocation through this process).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForgetKey(pub String);

impl Handler<ForgetKey> for KeyVerifier {
    type Result = ();

    fn handle(&mut self, ForgetKey(prefix): ForgetKey, _: &mut Self::Context) {
        self.cache.remove(&prefix);
    }
}

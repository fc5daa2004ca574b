//! KeyVerifier: which organization an API key belongs to, cached so that a request does not
//! read the database to authenticate. Entries expire after the cache TTL, so a key revoked
//! from another process stops working within that time; revocations in this process apply
//! at once.
use std::collections::HashMap;
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

pub struct KeyVerifier {
    db: DatabaseConnection,
    ttl: Duration,
    cache: HashMap<String, CachedKey>,
}

impl KeyVerifier {
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        KeyVerifier {
            db,
            ttl,
            cache: HashMap::new(),
        }
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
        if let Some(entry) = self.cache.get(key.prefix()) {
            if entry.loaded_at.elapsed() < self.ttl {
                return Box::pin(fut::ready(Ok(verdict(entry, &key))));
            }
        }
        let db = self.db.clone();
        let prefix = key.prefix().to_owned();
        let load = async move {
            api_key::Entity::find()
                .filter(api_key::Column::Prefix.eq(prefix))
                .one(&db)
                .await
        };
        Box::pin(fut::wrap_future(load).map(move |row, act: &mut Self, _| {
            let row = row?;
            let Some(row) = row else { return Ok(None) };
            let entry = CachedKey {
                hash: row.key_hash,
                organization_id: row.organization_id,
                revoked: row.revoked_at.is_some(),
                loaded_at: Instant::now(),
            };
            let answer = verdict(&entry, &key);
            if act.cache.len() >= MAX_CACHED_KEYS {
                act.cache.clear();
            }
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

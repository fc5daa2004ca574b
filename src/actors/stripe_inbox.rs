//! StripeInbox: Stripe's webhook events in. It knows each organization's endpoint and signing
//! secrets (cached for the cache TTL; a change through this process holds at once), stores
//! each event once per organization and event id, and applies it through the actors that own
//! its effects: dunning and success signals through the DunningTracker, a cancellation
//! comment through the SentimentAnalyzer. Signatures are checked by the HTTP worker (the
//! domain's rule, off this actor's thread).
use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::dunning_tracker::{DunningTracker, Identify, RecordPaymentFailure, RecordSuccess};
use super::reason_classifier::ReasonReader;
use super::sentiment_analyzer::{AnalyzeReason, SentimentAnalyzer};
use super::{guard, guard_act, Failure, MAILBOX_CAPACITY};
use crate::clock::Clock;
use crate::domain::stripe_event::{Effect, StripeEvent};
use crate::store::database::WriteTurns;
use crate::store::secrets::SecretBox;
use crate::store::stripe_events::{self, Stored, StoredEvents};
use crate::store::stripe_webhooks::{self as store, SecretRefused};

/// Bounds memory when clients send many distinct endpoint ids.
const MAX_CACHED_ENDPOINTS: usize = 10_000;

/// An endpoint's organization and active secrets (None: no such endpoint).
pub type EndpointKeys = Option<(i64, Vec<String>)>;

/// Where the effects of events go.
pub struct EffectActors {
    pub dunning: Addr<DunningTracker>,
    pub sentiment: Addr<SentimentAnalyzer>,
    pub reasons: ReasonReader,
}

pub struct StripeInbox {
    db: DatabaseConnection,
    secrets: SecretBox,
    ttl: Duration,
    clock: Clock,
    effects: std::rc::Rc<EffectActors>,
    stored: std::sync::Arc<StoredEvents>,
    known: HashMap<String, (EndpointKeys, Instant)>,
}

impl StripeInbox {
    pub fn new(
        db: DatabaseConnection,
        turns: WriteTurns,
        secrets: SecretBox,
        ttl: Duration,
        clock: Clock,
        effects: EffectActors,
    ) -> Self {
        StripeInbox {
            stored: std::sync::Arc::new(StoredEvents::start(db.clone(), turns)),
            db,
            secrets,
            ttl,
            clock,
            effects: std::rc::Rc::new(effects),
            known: HashMap::new(),
        }
    }
}

impl Actor for StripeInbox {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// The organization and active signing secrets of an endpoint id.
#[derive(Message)]
#[rtype(result = "Result<EndpointKeys, Failure>")]
pub struct FindEndpoint(pub String);

impl Handler<FindEndpoint> for StripeInbox {
    type Result = ResponseActFuture<Self, Result<EndpointKeys, Failure>>;

    fn handle(&mut self, FindEndpoint(id): FindEndpoint, _: &mut Self::Context) -> Self::Result {
        if let Some((keys, loaded_at)) = self.known.get(&id) {
            if loaded_at.elapsed() < self.ttl {
                return guard_act(fut::ready(Ok(keys.clone())));
            }
        }
        let (db, secrets, wanted) = (self.db.clone(), self.secrets.clone(), id.clone());
        let load = async move { store::endpoint_secrets(&db, &secrets, &wanted).await };
        guard_act(fut::wrap_future(load).map(move |keys, act: &mut Self, _| {
            let keys = keys?;
            if act.known.len() >= MAX_CACHED_ENDPOINTS {
                act.known.clear();
            }
            act.known.insert(id, (keys.clone(), Instant::now()));
            Ok(keys)
        }))
    }
}

/// The webhook endpoint and signing secrets API (and the CLI's).
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageStripeWebhook {
    /// The endpoint id (created on first request): `{"endpoint_id": …}`.
    Endpoint {
        organization_id: i64,
    },
    AddSecret {
        organization_id: i64,
        secret: String,
    },
    ListSecrets {
        organization_id: i64,
    },
    RevokeSecret {
        organization_id: i64,
        id: String,
    },
}

impl Handler<ManageStripeWebhook> for StripeInbox {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageStripeWebhook, _: &mut Self::Context) -> Self::Result {
        let work = manage(self.db.clone(), self.secrets.clone(), msg);
        guard_act(fut::wrap_future(work).map(|result, act: &mut Self, _| {
            // Secrets added or revoked through this process hold at once.
            act.known.clear();
            result
        }))
    }
}

async fn manage(
    db: DatabaseConnection,
    secrets: SecretBox,
    msg: ManageStripeWebhook,
) -> Result<Value, Failure> {
    match msg {
        ManageStripeWebhook::Endpoint { organization_id } => {
            let id = store::endpoint_id(&db, organization_id).await?;
            Ok(serde_json::json!({ "endpoint_id": id }))
        }
        ManageStripeWebhook::AddSecret {
            organization_id,
            secret,
        } => {
            // The endpoint exists once it has a secret, so Stripe can be pointed at it.
            store::endpoint_id(&db, organization_id).await?;
            store::add_secret(&db, &secrets, organization_id, &secret)
                .await
                .map_err(|e| match e {
                    SecretRefused::TooMany => Failure::Refused(e.to_string()),
                    SecretRefused::Unexpected(e) => Failure::Unexpected(e),
                })
        }
        ManageStripeWebhook::ListSecrets { organization_id } => {
            Ok(store::list_secrets(&db, organization_id).await?)
        }
        ManageStripeWebhook::RevokeSecret {
            organization_id,
            id,
        } => {
            if store::revoke_secret(&db, organization_id, &id).await? {
                Ok(serde_json::json!({"message": "Revoked."}))
            } else {
                Err(Failure::NotFound(format!(
                    "No active webhook signing secret {id}."
                )))
            }
        }
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Applied,
    /// Stored, but a newer event of the customer already says otherwise.
    Superseded,
    /// Stored before: nothing changes.
    Duplicate,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Applied => "applied",
            Delivery::Superseded => "superseded",
            Delivery::Duplicate => "duplicate",
        }
    }
}

/// A verified event of an organization: store it, then apply it once.
#[derive(Message)]
#[rtype(result = "Result<Delivery, Failure>")]
pub struct ReceiveEvent {
    pub organization_id: i64,
    pub event: StripeEvent,
}

impl Handler<ReceiveEvent> for StripeInbox {
    type Result = ResponseFuture<Result<Delivery, Failure>>;

    fn handle(&mut self, msg: ReceiveEvent, _: &mut Self::Context) -> Self::Result {
        let (db, now, effects) = (self.db.clone(), self.clock.now(), self.effects.clone());
        let stored = self.stored.clone();
        guard(async move {
            let ReceiveEvent {
                organization_id,
                event,
            } = msg;
            let effect = event.effect;
            let delivery = match stored.store(organization_id, event.clone(), now).await? {
                Stored::Duplicate => Delivery::Duplicate,
                Stored::Claimed {
                    id: row,
                    superseded,
                } => match apply(&effects, organization_id, &event, superseded).await {
                    Ok(delivery) => {
                        stored.applied(row, now).await?;
                        delivery
                    }
                    Err(failure) => {
                        // Stripe retries what is not answered 2xx: that delivery applies it.
                        if let Err(e) = stripe_events::release(&db, row).await {
                            tracing::error!(error = %e, "could not release a Stripe event");
                        }
                        return Err(failure);
                    }
                },
            };
            crate::metrics::stripe_event(effect.as_str(), delivery.as_str());
            Ok(delivery)
        })
    }
}

fn unavailable(what: &str, e: MailboxError) -> Failure {
    Failure::Unexpected(anyhow::anyhow!("{what} unavailable: {e}"))
}

/// Applies a stored event. Events come in any order, so each was weighed, when stored,
/// against the newer facts already stored (`Effect::superseded_by`): a superseded event is
/// kept, and changes nothing.
async fn apply(
    effects: &EffectActors,
    organization_id: i64,
    event: &StripeEvent,
    superseded: bool,
) -> Result<Delivery, Failure> {
    let Some(who) = event
        .end_user()
        .filter(|_| event.effect != Effect::Unhandled)
    else {
        return Ok(Delivery::Applied);
    };
    if superseded {
        return Ok(Delivery::Superseded);
    }
    match event.effect {
        Effect::PaymentFailed => {
            effects
                .dunning
                .send(RecordPaymentFailure {
                    organization_id,
                    who,
                })
                .await
                .map_err(|e| unavailable("dunning tracker", e))??;
        }
        Effect::PaymentSucceeded => {
            effects
                .dunning
                .send(RecordSuccess {
                    organization_id,
                    who,
                    event: event.kind.clone(),
                })
                .await
                .map_err(|e| unavailable("dunning tracker", e))??;
        }
        Effect::Churned if event.cancellation.comment.is_some() => {
            let comment = event.cancellation.comment.clone().unwrap_or_default();
            let reading = effects.reasons.read(&comment).await?;
            effects
                .sentiment
                .send(AnalyzeReason {
                    organization_id,
                    reason: comment,
                    reading,
                    who: Some(who),
                    target_id: None,
                })
                .await
                .map_err(|e| unavailable("sentiment analyzer", e))??;
        }
        // The end user exists and its Stripe customer is known, for save validation; the
        // event itself is the record.
        _ => {
            effects
                .dunning
                .send(Identify {
                    organization_id,
                    who,
                })
                .await
                .map_err(|e| unavailable("dunning tracker", e))??;
        }
    }
    Ok(Delivery::Applied)
}

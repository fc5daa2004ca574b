//! StripeInbox: Stripe's webhook events in. It knows each organization's endpoint and signing
//! secrets (cached for the cache TTL; a change through this process holds at once), stores
//! each event once per organization and event id, and applies it through the actors that own
//! its effects: dunning and success signals through the DunningTracker, a cancellation
//! comment through the SentimentAnalyzer. Signatures are checked by the HTTP worker (the
//! domain's rule, off this actor's thread). The HTTP workers find endpoints in a cache they
//! share with the actor (`KnownEndpoints`) and hand events to the `StripeEventIntake`
//! themselves: a delivery costs the actor no message unless its endpoint is not cached.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix::prelude::*;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::dunning_tracker::{DunningTracker, Identify, RecordPaymentFailure, RecordSuccess};
use super::reason_classifier::ReasonReader;
use super::sentiment_analyzer::{AnalyzeReason, SentimentAnalyzer};
use super::{guard_act, Failure, MAILBOX_CAPACITY};
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
    known: KnownEndpoints,
    intake: StripeEventIntake,
}

/// Endpoints and their secrets as loaded, shared by the actor (which loads them) and the HTTP
/// workers (which read them without a message), each kept for the cache TTL.
#[derive(Clone)]
pub struct KnownEndpoints {
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, (EndpointKeys, Instant)>>>,
}

impl KnownEndpoints {
    /// The endpoint's organization and secrets when cached and fresh; None when the
    /// StripeInbox must load them (`FindEndpoint`).
    pub fn find(&self, id: &str) -> Option<EndpointKeys> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (keys, loaded_at) = entries.get(id)?;
        (loaded_at.elapsed() < self.ttl).then(|| keys.clone())
    }

    fn remember(&self, id: String, keys: EndpointKeys) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_ENDPOINTS {
            entries.clear();
        }
        entries.insert(id, (keys, Instant::now()));
    }

    /// Secrets added or revoked through this process hold at once.
    fn forget_all(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
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
            intake: StripeEventIntake {
                stored: Arc::new(StoredEvents::start(db.clone(), turns)),
                db: db.clone(),
                clock,
                effects: Arc::new(effects),
            },
            db,
            secrets,
            known: KnownEndpoints {
                ttl,
                entries: Arc::new(RwLock::new(HashMap::new())),
            },
        }
    }

    /// The endpoint cache the HTTP workers read.
    pub fn known_endpoints(&self) -> KnownEndpoints {
        self.known.clone()
    }

    /// Where the HTTP workers hand verified events.
    pub fn intake(&self) -> StripeEventIntake {
        self.intake.clone()
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
        if let Some(keys) = self.known.find(&id) {
            return guard_act(fut::ready(Ok(keys)));
        }
        let (db, secrets, wanted) = (self.db.clone(), self.secrets.clone(), id.clone());
        let load = async move { store::endpoint_secrets(&db, &secrets, &wanted).await };
        guard_act(fut::wrap_future(load).map(move |keys, act: &mut Self, _| {
            let keys = keys?;
            act.known.remember(id, keys.clone());
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
    /// Whether the organization's Stripe secret key is stored (never the key):
    /// `{"stripe_key_stored": …}`.
    KeyStatus {
        organization_id: i64,
    },
}

impl Handler<ManageStripeWebhook> for StripeInbox {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageStripeWebhook, _: &mut Self::Context) -> Self::Result {
        let work = manage(self.db.clone(), self.secrets.clone(), msg);
        guard_act(fut::wrap_future(work).map(|result, act: &mut Self, _| {
            act.known.forget_all();
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
        ManageStripeWebhook::KeyStatus { organization_id } => {
            let organization = crate::store::tenants::find_organization(&db, organization_id)
                .await
                .map_err(|_| {
                    Failure::NotFound(format!("Organization {organization_id} not found."))
                })?;
            Ok(serde_json::json!({
                "stripe_key_stored": organization.stripe_key_ciphertext.is_some(),
            }))
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

/// Stores verified events and applies each once; cloned into every HTTP worker.
#[derive(Clone)]
pub struct StripeEventIntake {
    db: DatabaseConnection,
    clock: Clock,
    effects: Arc<EffectActors>,
    stored: Arc<StoredEvents>,
}

impl StripeEventIntake {
    /// A verified event of an organization: store it, then apply it once.
    #[tracing::instrument(skip_all, fields(event = %event.id))]
    pub async fn receive(
        &self,
        organization_id: i64,
        event: StripeEvent,
    ) -> Result<Delivery, Failure> {
        let now = self.clock.now();
        let effect = event.effect;
        let delivery = match self
            .stored
            .store(organization_id, event.clone(), now)
            .await?
        {
            Stored::Duplicate => Delivery::Duplicate,
            Stored::Claimed {
                id: row,
                superseded,
            } => {
                match apply(&self.effects, organization_id, &event, superseded, row).await {
                    Ok((delivery, marked)) => {
                        if !marked {
                            self.stored.applied(row, now).await?;
                        }
                        delivery
                    }
                    Err(failure) => {
                        // Stripe retries what is not answered 2xx: that delivery applies it.
                        if let Err(e) = stripe_events::release(&self.db, row).await {
                            tracing::error!(error = %e, "could not release a Stripe event");
                        }
                        return Err(failure);
                    }
                }
            }
        };
        crate::metrics::stripe_event(effect.as_str(), delivery.as_str());
        Ok(delivery)
    }
}

fn unavailable(what: &str, e: MailboxError) -> Failure {
    Failure::Unexpected(anyhow::anyhow!("{what} unavailable: {e}"))
}

/// Applies a stored event (its row: `row`). Events come in any order, so each was weighed,
/// when stored, against the newer facts already stored (`Effect::superseded_by`): a
/// superseded event is kept, and changes nothing. Answers what became of it, and whether the
/// commit that applied it also marked it applied: a payment event is, in the payment-health
/// group commit, so that no crash between the two can apply it twice.
async fn apply(
    effects: &EffectActors,
    organization_id: i64,
    event: &StripeEvent,
    superseded: bool,
    row: i64,
) -> Result<(Delivery, bool), Failure> {
    let Some(who) = event
        .end_user()
        .filter(|_| event.effect != Effect::Unhandled)
    else {
        return Ok((Delivery::Applied, false));
    };
    if superseded {
        return Ok((Delivery::Superseded, false));
    }
    match event.effect {
        Effect::PaymentFailed => {
            effects
                .dunning
                .send(RecordPaymentFailure {
                    organization_id,
                    who,
                    stripe_event: Some(row),
                })
                .await
                .map_err(|e| unavailable("dunning tracker", e))??;
            return Ok((Delivery::Applied, true));
        }
        Effect::PaymentSucceeded => {
            effects
                .dunning
                .send(RecordSuccess {
                    organization_id,
                    who,
                    event: event.kind.clone(),
                    stripe_event: Some(row),
                })
                .await
                .map_err(|e| unavailable("dunning tracker", e))??;
            return Ok((Delivery::Applied, true));
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
    Ok((Delivery::Applied, false))
}

//! Offer applications: the durable ledger of accepted offers being applied to Stripe, and
//! one attempt of an application (shared by the request path and the retry worker).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use entity::{offer_application, organization};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde_json::{json, Value};
use workers::Queue;

pub mod ledger;
use ledger::{Ledger, Settlement};

use crate::jobs::ledger::LedgerJob;
use crate::store::secrets::SecretBox;
use crate::stripe::{
    prepare_change, send_change, ApplyError, KnownCoupons, OfferKind, OfferSpec, SecretKey,
    StripeClient,
};

/// An application retry: job `apply_offer:<application id>`.
pub const APPLY_OFFER: LedgerJob = LedgerJob {
    kind: "apply_offer",
    row_field: "application_id",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Created; the request's own attempt is under way.
    Pending,
    /// A transient failure: queued for another attempt.
    Retrying,
    Applied,
    /// Stripe refused for good.
    Failed,
    /// Every retry failed; an operator can retry it.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::Dead => "dead",
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The change is at Stripe (now, or already before).
    Applied,
    /// Worth retrying.
    Transient { error: String },
    /// Stripe replayed a stored failure for the application's idempotency key and the change
    /// is not in effect: worth retrying, under `next_key`, which the ledger stores with this
    /// attempt. (The old key would replay the failure; the subscription was read, so a new
    /// key cannot apply the change twice.)
    Replayed { error: String, next_key: String },
    /// Retrying cannot help.
    Permanent {
        error: String,
        stripe_error: Option<Value>,
    },
}

/// Applies accepted offers, keeping the ledger.
pub struct OfferApplier {
    pub db: DatabaseConnection,
    pub stripe: StripeClient,
    pub secrets: SecretBox,
    pub queue: Arc<dyn Queue>,
    pub idempotency_window: TimeDelta,
    pub keys: KeyCache,
    /// Coupons known to exist, per Stripe account.
    pub coupons: KnownCoupons,
    /// The attempt path's ledger reads and writes, batched across concurrent attempts.
    pub ledger: Ledger,
}

/// Organizations' decrypted Stripe keys, kept for the cache TTL so that a request or an
/// attempt does not read and decrypt the key each time. Only keys that exist are kept: a
/// key stored after "not configured" applies at once, a replaced one within the TTL.
pub struct KeyCache {
    ttl: Duration,
    keys: Mutex<HashMap<i64, (SecretKey, Instant)>>,
}

/// Bounds the key cache (it is emptied when full).
const MAX_CACHED_STRIPE_KEYS: usize = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, organization_id: i64) -> Option<SecretKey> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(&organization_id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(key, _)| key.clone())
    }

    fn put(&self, organization_id: i64, key: &SecretKey) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_CACHED_STRIPE_KEYS {
            keys.clear();
        }
        keys.insert(organization_id, (key.clone(), Instant::now()));
    }
}

/// A request to apply an offer, validated.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
    pub stripe_subscription_id: String,
    pub mrr_e4: Option<i64>,
    /// The experiment arm credited with the application and its save.
    pub exposure: Option<crate::store::experiments::Exposure>,
}

impl OfferApplier {
    /// The organization's Stripe key, if one is set.
    pub async fn stripe_key(&self, organization_id: i64) -> anyhow::Result<Option<SecretKey>> {
        if let Some(key) = self.keys.get(organization_id) {
            return Ok(Some(key));
        }
        let org = organization::Entity::find_by_id(organization_id)
            .one(&self.db)
            .await
            .context("reading the organization")?
            .with_context(|| format!("organization {organization_id} is gone"))?;
        match org.stripe_key_ciphertext {
            Some(sealed) => {
                let key = SecretKey::new(
                    self.secrets
                        .open(&sealed)
                        .context("opening the organization's Stripe key")?,
                );
                self.keys.put(organization_id, &key);
                Ok(Some(key))
            }
            None => Ok(None),
        }
    }

    /// Writes the ledger entry before anything is sent to Stripe.
    #[tracing::instrument(skip(self))]
    pub async fn open(
        &self,
        application: NewApplication,
    ) -> anyhow::Result<offer_application::Model> {
        let now = Utc::now();
        let key = format!(
            "saveloops-apply-{}-{:016x}",
            application.offer_id,
            rand::thread_rng().gen::<u64>()
        );
        offer_application::ActiveModel {
            organization_id: Set(application.organization_id),
            offer_id: Set(application.offer_id),
            end_user_id: Set(application.end_user_id),
            stripe_subscription_id: Set(application.stripe_subscription_id),
            idempotency_key: Set(key),
            status: Set(Status::Pending.as_str().to_owned()),
            attempts: Set(0),
            mrr_e4: Set(application.mrr_e4),
            experiment_id: Set(application.exposure.as_ref().map(|e| e.experiment_id)),
            experiment_arm: Set(application.exposure.map(|e| e.arm)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .context("recording the offer application")
    }

    /// One Stripe attempt of the application, recorded in the ledger. Safe to call again
    /// for an application that is already applied or failed: it changes nothing then.
    #[tracing::instrument(skip(self))]
    pub async fn attempt(&self, application_id: i64) -> anyhow::Result<Attempt> {
        let application = self
            .ledger
            .application(application_id)
            .await?
            .with_context(|| format!("application {application_id} does not exist"))?;
        match application.status.as_str() {
            "applied" => return Ok(Attempt::Applied),
            "failed" => {
                return Ok(Attempt::Permanent {
                    error: application.last_error.unwrap_or_default(),
                    stripe_error: None,
                })
            }
            _ => {}
        }
        let result = self.call_stripe(&application).await;
        let attempt = match result {
            Ok(outcome) => outcome,
            Err(error) => Attempt::Transient {
                error: format!("{error:#}"),
            },
        };
        self.ledger
            .settle(Settlement {
                application,
                attempt: attempt.clone(),
            })
            .await?;
        Ok(attempt)
    }

    async fn call_stripe(&self, application: &offer_application::Model) -> anyhow::Result<Attempt> {
        let offer = self.ledger.offer(application.offer_id).await?;
        let Some(offer) = offer.filter(|o| o.organization_id == application.organization_id) else {
            return Ok(Attempt::Permanent {
                error: "The offer no longer exists.".into(),
                stripe_error: None,
            });
        };
        let Some(kind) = OfferKind::parse(&offer.kind) else {
            return Ok(Attempt::Permanent {
                error: format!("Unknown offer type {}.", offer.kind),
                stripe_error: None,
            });
        };
        let Some(key) = self.stripe_key(application.organization_id).await? else {
            return Ok(Attempt::Permanent {
                error: "Stripe is not configured for this organization.".into(),
                stripe_error: None,
            });
        };
        let spec = OfferSpec {
            offer_id: offer.id,
            org_id: offer.organization_id,
            kind,
            value: offer.value,
            config: serde_json::from_str(&offer.config).unwrap_or_else(|_| json!({})),
        };
        let form = match application
            .planned_change
            .as_deref()
            .and_then(|json| serde_json::from_str::<Vec<(String, String)>>(json).ok())
        {
            Some(form) => form,
            None => {
                let prepared = prepare_change(
                    &self.stripe,
                    &self.coupons,
                    &key,
                    &spec,
                    &application.stripe_subscription_id,
                    &application.idempotency_key,
                    application.created_at,
                )
                .await;
                let form = match prepared {
                    Ok(form) => form,
                    Err(e) => return Ok(stripe_failure(e)),
                };
                // Stored before it is sent: every later attempt sends these very
                // parameters, which Stripe's idempotency requires.
                self.ledger
                    .plan(application.id, serde_json::to_string(&form)?)
                    .await?;
                form
            }
        };
        let applied = send_change(
            &self.stripe,
            &key,
            &application.stripe_subscription_id,
            &form,
            &application.idempotency_key,
            application.created_at,
            self.idempotency_window,
        )
        .await;
        Ok(match applied {
            Ok(_) => Attempt::Applied,
            Err(e @ ApplyError::ReplayedFailure(_)) => {
                let next_key =
                    next_idempotency_key(&application.idempotency_key, application.attempts + 1);
                Attempt::Replayed {
                    error: format!("{e}; the next attempt uses the idempotency key {next_key}"),
                    next_key,
                }
            }
            Err(e) => stripe_failure(e),
        })
    }

    /// Queues the application for a retry at `at`.
    pub async fn schedule(&self, application_id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
        offer_application::Entity::update_many()
            .col_expr(
                offer_application::Column::NextAttemptAt,
                Expr::value(Some(at)),
            )
            .filter(offer_application::Column::Id.eq(application_id))
            .exec(&self.db)
            .await
            .context("recording the next attempt time")?;
        self.queue
            .enqueue(APPLY_OFFER.job(application_id, at))
            .await
            .context("queueing the application")?;
        Ok(())
    }

    /// Marks an application dead (its retries are exhausted) or back to retrying (an
    /// operator revived it). See [`set_status`].
    pub async fn set_status(
        &self,
        application_id: i64,
        status: Status,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        set_status(&self.db, application_id, status, error).await
    }

    /// Re-queues unfinished applications the queue does not hold (Redis lost them, or the
    /// process died between the ledger write and the enqueue). Returns how many it restored.
    #[tracing::instrument(skip(self))]
    pub async fn reconcile(&self, grace: TimeDelta) -> anyhow::Result<usize> {
        let settled_before = Utc::now() - grace;
        let unfinished = offer_application::Entity::find()
            .filter(offer_application::Column::Status.is_in(["pending", "retrying"]))
            .filter(offer_application::Column::UpdatedAt.lt(settled_before))
            .all(&self.db)
            .await
            .context("listing unfinished applications")?;
        APPLY_OFFER
            .requeue(self.queue.as_ref(), unfinished.iter().map(|a| a.id))
            .await
            .context("re-queueing applications")
    }
}

/// The key of the attempts after `attempt`, whose request Stripe stored as a failure: the
/// application's first key with the attempt's number, `saveloops-apply-7-…-r3`. Short, so
/// that it stays far below Stripe's 255 characters however often it changes.
fn next_idempotency_key(current: &str, attempt: i32) -> String {
    let base = match current.rsplit_once("-r") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => current,
    };
    format!("{base}-r{attempt}")
}

/// A failed Stripe step as an attempt's outcome.
fn stripe_failure(error: ApplyError) -> Attempt {
    if error.is_transient() {
        return Attempt::Transient {
            error: error.to_string(),
        };
    }
    Attempt::Permanent {
        stripe_error: match &error {
            ApplyError::Stripe(s) | ApplyError::ReplayedFailure(s) => s.api_error_json(),
            ApplyError::NoStripeAction(_) => None,
        },
        error: error.to_string(),
    }
}

/// The application as `GET /api/v1/intercept/applications/{id}` shows it.
pub fn application_json(application: &offer_application::Model) -> Value {
    json!({
        "id": application.id,
        "offer_id": application.offer_id,
        "stripe_subscription_id": application.stripe_subscription_id,
        "status": application.status,
        "attempts": application.attempts,
        "last_error": application.last_error,
        "next_attempt_at": application.next_attempt_at.map(|t| t.to_rfc3339()),
        "applied_at": application.applied_at.map(|t| t.to_rfc3339()),
        "created_at": application.created_at.to_rfc3339(),
        "updated_at": application.updated_at.to_rfc3339(),
    })
}

/// Sets an unfinished application's status (dead, retrying, or failed when an operator
/// discards it), with an optional error. Applied and failed applications never change.
pub async fn set_status(
    db: &DatabaseConnection,
    application_id: i64,
    status: Status,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let mut update = offer_application::Entity::update_many()
        .col_expr(
            offer_application::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            offer_application::Column::UpdatedAt,
            Expr::value(Utc::now()),
        );
    if let Some(error) = error {
        update = update.col_expr(offer_application::Column::LastError, Expr::value(error));
    }
    let next_attempt = match status {
        // Revived: due now.
        Status::Retrying => Some(Some(Utc::now())),
        Status::Dead | Status::Failed => Some(None),
        Status::Pending | Status::Applied => None,
    };
    if let Some(at) = next_attempt {
        update = update.col_expr(offer_application::Column::NextAttemptAt, Expr::value(at));
    }
    update
        .filter(offer_application::Column::Id.eq(application_id))
        .filter(offer_application::Column::Status.is_not_in(["applied", "failed"]))
        .exec(db)
        .await
        .context("updating the application status")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_idempotency_key;

    #[test]
    fn a_new_key_keeps_the_first_and_names_the_attempt() {
        let first = "saveloops-apply-7-00c0ffee00c0ffee";
        assert_eq!(next_idempotency_key(first, 3), format!("{first}-r3"));
        assert_eq!(
            next_idempotency_key(&format!("{first}-r3"), 5),
            format!("{first}-r5")
        );
    }
}

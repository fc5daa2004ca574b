//! The async steps that perform a plan with a `StripeClient`: preparing the update form
//! once, then sending it under the application's idempotency key.

use chrono::{DateTime, TimeDelta, Utc};

use super::super::client::{validate_idempotency_key, SecretKey, StripeClient, Subscription};
use super::super::error::StripeError;
use super::coupons::{ensure_coupon, KnownCoupons};
use super::forms::discount_form;
use super::offer::{NoStripeAction, OfferSpec};
use super::plan::{plan_change, ChangePlan};
use super::visibility::change_visible;

/// The outcome of [`send_change`].
#[derive(Debug, Clone)]
pub struct AppliedChange {
    /// The subscription after the change (or as found, if already applied).
    pub subscription: Subscription,
    /// The update parameters sent (empty when skipped as already applied).
    pub form: Vec<(String, String)>,
    /// Stripe answered the update with `Idempotent-Replayed: true`: an earlier
    /// attempt had applied it.
    pub replayed: bool,
    /// No update was sent because the subscription already reflected it.
    pub already_applied: bool,
}

impl AppliedChange {
    fn found(subscription: Subscription) -> AppliedChange {
        AppliedChange {
            subscription,
            form: Vec::new(),
            replayed: false,
            already_applied: true,
        }
    }
}

/// Why preparing or sending a change failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The offer has no Stripe action or is misconfigured. Permanent.
    #[error(transparent)]
    NoStripeAction(#[from] NoStripeAction),
    /// Stripe (or the network) failed; check [`StripeError::is_transient`].
    #[error(transparent)]
    Stripe(#[from] StripeError),
    /// Stripe replayed a stored failure for the idempotency key, and the subscription does
    /// not show the change: the first request failed without applying it. Transient, but
    /// only with a new idempotency key, since this one will replay the failure for ~24 h.
    #[error("Stripe replayed a stored failure and the change is not in effect ({0})")]
    ReplayedFailure(StripeError),
}

impl ApplyError {
    /// Retry the job (same idempotency key, same `now`) later?
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::NoStripeAction(_) => false,
            ApplyError::Stripe(e) => e.is_transient(),
            ApplyError::ReplayedFailure(_) => true,
        }
    }
}

/// Works out the subscription update for an offer, doing the Stripe reads and
/// writes it depends on: a discount creates (or reuses) its coupon; a trial
/// extension or downgrade reads the subscription. The caller stores the
/// returned form before sending it with [`send_change`], so every later
/// attempt sends the very same parameters under the same idempotency key.
///
/// * `idempotency_key`: the application's key (≤ 248 chars for discounts,
///   whose coupon creation uses `{key}-coupon`).
/// * `now`: the application's creation time.
#[tracing::instrument(
    name = "stripe.prepare_change",
    skip(client, coupons, key, spec),
    fields(offer_id = spec.offer_id, org_id = spec.org_id, kind = %spec.kind, subscription_id = %subscription_id)
)]
pub async fn prepare_change(
    client: &StripeClient,
    coupons: &KnownCoupons,
    key: &SecretKey,
    spec: &OfferSpec,
    subscription_id: &str,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, ApplyError> {
    validate_idempotency_key(idempotency_key)?;
    Ok(match plan_change(spec, now)? {
        ChangePlan::Discount { coupon } => {
            discount_form(&ensure_coupon(client, coupons, key, &coupon, idempotency_key).await?)
        }
        ChangePlan::Update { form } => form,
        ChangePlan::NeedsSubscription(pending) => {
            let sub = client.get_subscription(key, subscription_id).await?;
            pending.resolve(&sub, now)?
        }
    })
}

/// Sends a planned change. Past Stripe's idempotency window (measured from
/// `created_at`, the application's creation) it first reads the subscription
/// and skips the update when the change is already there; a key Stripe says
/// was used with other parameters is settled the same way.
#[tracing::instrument(
    name = "stripe.send_change",
    skip(client, key, form),
    fields(subscription_id = %subscription_id, idempotency_key = %idempotency_key)
)]
pub async fn send_change(
    client: &StripeClient,
    key: &SecretKey,
    subscription_id: &str,
    form: &[(String, String)],
    idempotency_key: &str,
    created_at: DateTime<Utc>,
    idempotency_window: TimeDelta,
) -> Result<AppliedChange, ApplyError> {
    validate_idempotency_key(idempotency_key)?;
    if Utc::now().signed_duration_since(created_at) > idempotency_window {
        let sub = client.get_subscription(key, subscription_id).await?;
        if change_visible(form, &sub) {
            tracing::info!("change already on the subscription; skipping the update");
            return Ok(AppliedChange::found(sub));
        }
    }
    match client
        .update_subscription_with_meta(key, subscription_id, form, idempotency_key)
        .await
    {
        Ok((subscription, meta)) => Ok(AppliedChange {
            subscription,
            form: form.to_vec(),
            replayed: meta.replayed,
            already_applied: false,
        }),
        // The key's first request failed after it started executing, and Stripe replays
        // that failure to every retry with the key. The subscription tells whether the
        // change landed; if not, the caller must retry under a new key.
        Err(e) if e.is_replayed_failure() => {
            let sub = client.get_subscription(key, subscription_id).await?;
            if change_visible(form, &sub) {
                tracing::warn!("Stripe replayed a stored failure, but the change is in effect");
                Ok(AppliedChange::found(sub))
            } else {
                Err(ApplyError::ReplayedFailure(e))
            }
        }
        Err(e) if e.is_idempotency_error() => {
            let sub = client.get_subscription(key, subscription_id).await?;
            if change_visible(form, &sub) {
                tracing::warn!("idempotency key reused with other parameters, but the change is already applied");
                Ok(AppliedChange::found(sub))
            } else {
                Err(e.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

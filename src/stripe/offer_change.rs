//! Turning an accepted retention offer into a change of a Stripe subscription.
//!
//! The planning functions are pure (no I/O, time passed in) so every rule is
//! unit-testable; [`prepare_change`] and [`send_change`] are the async steps
//! that perform a plan with a [`StripeClient`].
//!
//! # Idempotency across attempts
//!
//! An application may be attempted many times with the same idempotency key.
//! Stripe replays a stored response only when the parameters are *identical*,
//! and a key reused with different parameters gets a 400 `idempotency_error`.
//! So the caller prepares the form once, stores it with the application, and
//! every attempt sends exactly that form: time-derived values (`resumes_at`,
//! `trial_end`) and values read from the subscription (its item, its current
//! trial end) never change between attempts.
//!
//! Past Stripe's idempotency window (keys are kept about 24 hours),
//! [`send_change`] reads the subscription first and skips the update when
//! [`change_visible`] says the stored form is already in effect.
//!
//! Only the parameters Stripe documents for each change are sent — no
//! metadata, no expansions in request bodies — so a strict server that rejects
//! unknown parameters accepts every request.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{
    format_percent, validate_idempotency_key, CouponDuration, CouponParams, SecretKey,
    StripeClient, Subscription,
};
use super::error::StripeError;

/// Stripe rejects a `trial_end` more than this far in the future.
pub const MAX_TRIAL_DAYS: u32 = 730;

/// The offer types Saveloops knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    Discount,
    Pause,
    TrialExtension,
    Downgrade,
    Contact,
    Custom,
}

impl OfferKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OfferKind::Discount => "discount",
            OfferKind::Pause => "pause",
            OfferKind::TrialExtension => "trial_extension",
            OfferKind::Downgrade => "downgrade",
            OfferKind::Contact => "contact",
            OfferKind::Custom => "custom",
        }
    }

    /// Parses the snake_case name used in the database and the API.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "discount" => OfferKind::Discount,
            "pause" => OfferKind::Pause,
            "trial_extension" => OfferKind::TrialExtension,
            "downgrade" => OfferKind::Downgrade,
            "contact" => OfferKind::Contact,
            "custom" => OfferKind::Custom,
            _ => return None,
        })
    }

    /// Whether accepting this offer changes anything at Stripe.
    pub fn has_stripe_action(&self) -> bool {
        !matches!(self, OfferKind::Contact | OfferKind::Custom)
    }
}

impl fmt::Display for OfferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An accepted offer, as the job stores it.
///
/// `value` means: discount → percent off; pause → months; trial_extension →
/// days; downgrade/contact/custom → unused. `config`:
/// discount `{"duration": "once|repeating|forever", "duration_in_months": N}`
/// (duration defaults to `once`, like Stripe), pause `{"behavior":
/// "keep_as_draft|mark_uncollectible|void"}` (default `void`), downgrade
/// `{"price_id": "price_…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferSpec {
    pub offer_id: i64,
    pub org_id: i64,
    pub kind: OfferKind,
    pub value: f64,
    pub config: Value,
}

/// `pause_collection[behavior]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseBehavior {
    KeepAsDraft,
    MarkUncollectible,
    Void,
}

impl PauseBehavior {
    pub fn as_str(&self) -> &'static str {
        match self {
            PauseBehavior::KeepAsDraft => "keep_as_draft",
            PauseBehavior::MarkUncollectible => "mark_uncollectible",
            PauseBehavior::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "keep_as_draft" => PauseBehavior::KeepAsDraft,
            "mark_uncollectible" => PauseBehavior::MarkUncollectible,
            "void" => PauseBehavior::Void,
            _ => return None,
        })
    }
}

/// Why an offer cannot be turned into a Stripe change. Never transient:
/// retrying cannot fix the offer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoStripeAction {
    #[error("`{0}` offers have no Stripe action")]
    NotApplicable(OfferKind),
    #[error("offer {offer_id} ({kind}) is misconfigured: {reason}")]
    InvalidConfig {
        offer_id: i64,
        kind: OfferKind,
        reason: String,
    },
    #[error("subscription {0} has no items to change")]
    NoSubscriptionItems(String),
}

/// What to do at Stripe for an offer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangePlan {
    /// Create (or reuse) this coupon, then update the subscription with
    /// [`discount_form`] of its id.
    Discount { coupon: CouponParams },
    /// Update the subscription with this form; nothing needs reading first.
    Update { form: Vec<(String, String)> },
    /// The form depends on the current subscription: read it, then
    /// [`PendingChange::resolve`].
    NeedsSubscription(PendingChange),
}

/// A change whose parameters depend on the subscription's current state.
#[derive(Debug, Clone, PartialEq)]
pub enum PendingChange {
    /// `trial_end` = max(now, current trial_end) + days.
    TrialExtension { days: u32 },
    /// Swap the first item's price.
    Downgrade { price_id: String },
}

impl PendingChange {
    /// The update form given the subscription as read just before updating.
    pub fn resolve(
        &self,
        sub: &Subscription,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, NoStripeAction> {
        match self {
            PendingChange::TrialExtension { days } => Ok(trial_extension_form(
                trial_extension_target(sub.trial_end, now, *days),
            )),
            PendingChange::Downgrade { price_id } => {
                let item = sub
                    .first_item()
                    .ok_or_else(|| NoStripeAction::NoSubscriptionItems(sub.id.clone()))?;
                Ok(downgrade_form(&item.id, price_id))
            }
        }
    }
}

/// Plans the Stripe change for an offer. `now` = the job's creation time.
pub fn plan_change(spec: &OfferSpec, now: DateTime<Utc>) -> Result<ChangePlan, NoStripeAction> {
    match spec.kind {
        OfferKind::Discount => Ok(ChangePlan::Discount {
            coupon: coupon_for(spec)?,
        }),
        OfferKind::Pause => {
            let behavior = pause_behavior(spec)?;
            let months = whole_number(spec, "months")?;
            let resumes_at = pause_resumes_at(now, months)
                .ok_or_else(|| invalid(spec, format!("cannot add {months} months to {now}")))?;
            Ok(ChangePlan::Update {
                form: pause_form(behavior, resumes_at),
            })
        }
        OfferKind::TrialExtension => {
            let days = whole_number(spec, "days")?;
            if days > MAX_TRIAL_DAYS {
                return Err(invalid(
                    spec,
                    format!("{days} days exceeds Stripe's {MAX_TRIAL_DAYS}-day trial limit"),
                ));
            }
            Ok(ChangePlan::NeedsSubscription(
                PendingChange::TrialExtension { days },
            ))
        }
        OfferKind::Downgrade => Ok(ChangePlan::NeedsSubscription(PendingChange::Downgrade {
            price_id: downgrade_price(spec)?,
        })),
        OfferKind::Contact | OfferKind::Custom => Err(NoStripeAction::NotApplicable(spec.kind)),
    }
}

/// The coupon a discount offer uses: deterministic id, so every attempt (and
/// every customer accepting the same offer) shares one coupon.
pub fn coupon_for(spec: &OfferSpec) -> Result<CouponParams, NoStripeAction> {
    let percent = spec.value;
    if !percent.is_finite() || percent <= 0.0 || percent > 100.0 {
        return Err(invalid(
            spec,
            format!("percent off must be in (0, 100], got {percent}"),
        ));
    }
    // Stripe takes two decimals; round once so id and percent_off agree.
    let percent = (percent * 100.0).round() / 100.0;
    if percent <= 0.0 {
        return Err(invalid(
            spec,
            format!("percent off {} rounds to 0", spec.value),
        ));
    }
    let duration = coupon_duration(spec)?;
    Ok(CouponParams {
        id: coupon_id(spec.org_id, spec.offer_id, percent, duration),
        percent_off: percent,
        duration,
        // Only the parameters the change needs: id, percent_off, duration(_in_months).
        name: None,
        metadata: BTreeMap::new(),
    })
}

/// `saveloops_o{org}_offer{offer}_{percent}pct_{duration}`, e.g.
/// `saveloops_o7_offer42_20pct_repeating3m` or `…_12p5pct_once`. The terms are
/// part of the id, so editing an offer's terms yields a new coupon rather
/// than silently reusing one with the old terms.
pub fn coupon_id(org_id: i64, offer_id: i64, percent_off: f64, duration: CouponDuration) -> String {
    let pct = format_percent(percent_off).replace('.', "p");
    let dur = match duration {
        CouponDuration::Once => "once".to_string(),
        CouponDuration::Forever => "forever".to_string(),
        CouponDuration::Repeating { duration_in_months } => {
            format!("repeating{duration_in_months}m")
        }
    };
    format!("saveloops_o{org_id}_offer{offer_id}_{pct}pct_{dur}")
}

/// Attach a coupon. Since 2025-03-31.basil this is `discounts[0][coupon]`
/// (the singular `coupon` parameter is gone); it replaces the subscription's
/// discounts, so a retention discount does not stack on an older one.
pub fn discount_form(coupon_id: &str) -> Vec<(String, String)> {
    vec![("discounts[0][coupon]".to_string(), coupon_id.to_string())]
}

pub fn pause_form(behavior: PauseBehavior, resumes_at: i64) -> Vec<(String, String)> {
    vec![
        (
            "pause_collection[behavior]".to_string(),
            behavior.as_str().to_string(),
        ),
        (
            "pause_collection[resumes_at]".to_string(),
            resumes_at.to_string(),
        ),
    ]
}

/// `now` + `months` calendar months (Jan 31 + 1 month = Feb 28/29), unix
/// seconds. `None` on overflow.
pub fn pause_resumes_at(now: DateTime<Utc>, months: u32) -> Option<i64> {
    now.checked_add_months(Months::new(months))
        .map(|t| t.timestamp())
}

/// The later of `now` and the current trial end, plus `days`: extending a
/// running trial adds to it; an expired or absent trial starts from now.
pub fn trial_extension_target(
    current_trial_end: Option<i64>,
    now: DateTime<Utc>,
    days: u32,
) -> i64 {
    let base = current_trial_end.unwrap_or(i64::MIN).max(now.timestamp());
    base.saturating_add(i64::from(days) * 86_400)
}

/// `proration_behavior=none`: extra free days should not produce a prorated
/// invoice.
pub fn trial_extension_form(trial_end: i64) -> Vec<(String, String)> {
    vec![
        ("trial_end".to_string(), trial_end.to_string()),
        ("proration_behavior".to_string(), "none".to_string()),
    ]
}

pub fn downgrade_form(item_id: &str, price_id: &str) -> Vec<(String, String)> {
    vec![
        ("items[0][id]".to_string(), item_id.to_string()),
        ("items[0][price]".to_string(), price_id.to_string()),
    ]
}

/// Does `sub` already show every parameter of `form`? Used when Stripe's
/// replay cannot be relied on (a retry older than the idempotency window, or a
/// key that Stripe says was used with other parameters). The form is the one
/// planned for the application and stored before it was first sent, so this
/// compares against exactly what was asked for:
///
/// * `discounts[0][coupon]`: the coupon is among the subscription's discounts;
/// * `pause_collection[behavior]` / `[resumes_at]`: collection is paused so;
/// * `trial_end`: the trial ends then;
/// * `items[0][price]`: the first item has that price;
///
/// other parameters (`items[0][id]`, `proration_behavior`) leave no trace to
/// compare and are ignored. An empty form is never "visible".
pub fn change_visible(form: &[(String, String)], sub: &Subscription) -> bool {
    !form.is_empty()
        && form.iter().all(|(name, value)| match name.as_str() {
            "discounts[0][coupon]" => sub.has_coupon(value),
            "pause_collection[behavior]" => sub
                .pause_collection
                .as_ref()
                .is_some_and(|p| &p.behavior == value),
            "pause_collection[resumes_at]" => sub
                .pause_collection
                .as_ref()
                .is_some_and(|p| p.resumes_at.map(|t| t.to_string()).as_ref() == Some(value)),
            "trial_end" => sub.trial_end.map(|t| t.to_string()).as_ref() == Some(value),
            "items[0][price]" => sub.first_item().is_some_and(|i| &i.price_id == value),
            _ => true,
        })
}

fn invalid(spec: &OfferSpec, reason: impl Into<String>) -> NoStripeAction {
    NoStripeAction::InvalidConfig {
        offer_id: spec.offer_id,
        kind: spec.kind,
        reason: reason.into(),
    }
}

/// `spec.value` as a positive whole number (months/days): fractional values
/// are rejected rather than silently rounded.
fn whole_number(spec: &OfferSpec, unit: &str) -> Result<u32, NoStripeAction> {
    let v = spec.value;
    if !v.is_finite() || v < 1.0 || v.fract().abs() > 1e-9 || v > f64::from(u32::MAX) {
        return Err(invalid(
            spec,
            format!("value must be a positive whole number of {unit}, got {v}"),
        ));
    }
    Ok(v.round() as u32)
}

fn config_str<'a>(spec: &'a OfferSpec, key: &str) -> Option<&'a str> {
    spec.config.get(key).and_then(Value::as_str)
}

fn coupon_duration(spec: &OfferSpec) -> Result<CouponDuration, NoStripeAction> {
    match spec.config.get("duration") {
        None | Some(Value::Null) => Ok(CouponDuration::Once),
        Some(Value::String(s)) => match s.as_str() {
            "once" => Ok(CouponDuration::Once),
            "forever" => Ok(CouponDuration::Forever),
            "repeating" => {
                let months = match spec.config.get("duration_in_months") {
                    Some(Value::Number(n)) => n
                        .as_u64()
                        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as u64)),
                    Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
                    _ => None,
                }
                .filter(|m| *m >= 1 && *m <= u64::from(u32::MAX))
                .ok_or_else(|| {
                    invalid(
                        spec,
                        "repeating discount needs a positive integer `duration_in_months`",
                    )
                })?;
                Ok(CouponDuration::Repeating {
                    duration_in_months: months as u32,
                })
            }
            other => Err(invalid(
                spec,
                format!("unknown discount duration `{other}`"),
            )),
        },
        Some(other) => Err(invalid(
            spec,
            format!("discount duration must be a string, got {other}"),
        )),
    }
}

fn pause_behavior(spec: &OfferSpec) -> Result<PauseBehavior, NoStripeAction> {
    match spec.config.get("behavior") {
        None | Some(Value::Null) => Ok(PauseBehavior::Void),
        Some(Value::String(s)) => PauseBehavior::parse(s)
            .ok_or_else(|| invalid(spec, format!("unknown pause behavior `{s}`"))),
        Some(other) => Err(invalid(
            spec,
            format!("pause behavior must be a string, got {other}"),
        )),
    }
}

fn downgrade_price(spec: &OfferSpec) -> Result<String, NoStripeAction> {
    match config_str(spec, "price_id").map(str::trim) {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(invalid(spec, "downgrade needs a `price_id` in its config")),
    }
}

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

/// Coupons known to exist in a Stripe account, so that an offer accepted again does not
/// create, and then read, its coupon each time (two Stripe calls of the three a discount
/// costs). A coupon's id encodes its terms and Stripe does not let terms change, so only a
/// deletion in the Stripe dashboard can make an entry wrong: entries expire after
/// `KNOWN_COUPON_TTL`, after which the coupon is checked (and re-created) again.
#[derive(Default)]
pub struct KnownCoupons {
    /// (account, coupon id) → when it was last seen to exist.
    seen: Mutex<HashMap<(u64, String), Instant>>,
}

const KNOWN_COUPON_TTL: Duration = Duration::from_secs(600);
/// Bounds the memory (emptied when full).
const MAX_KNOWN_COUPONS: usize = 10_000;

impl KnownCoupons {
    /// The Stripe account a key belongs to, as far as this process can tell: the key itself,
    /// hashed so that the map does not hold secrets.
    fn account(key: &SecretKey) -> u64 {
        let mut hasher = DefaultHasher::new();
        key.expose_secret().hash(&mut hasher);
        hasher.finish()
    }

    fn knows(&self, key: &SecretKey, coupon_id: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&(Self::account(key), coupon_id.to_owned()))
            .is_some_and(|at| at.elapsed() < KNOWN_COUPON_TTL)
    }

    fn remember(&self, key: &SecretKey, coupon_id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_KNOWN_COUPONS {
            seen.clear();
        }
        seen.insert((Self::account(key), coupon_id.to_owned()), Instant::now());
    }
}

/// Creates the offer's coupon, or reuses it if it already exists (an earlier
/// attempt or another customer accepting the same offer created it).
async fn ensure_coupon(
    client: &StripeClient,
    coupons: &KnownCoupons,
    key: &SecretKey,
    params: &CouponParams,
    idempotency_key: &str,
) -> Result<String, StripeError> {
    if coupons.knows(key, &params.id) {
        return Ok(params.id.clone());
    }
    let id = find_or_create_coupon(client, key, params, idempotency_key).await?;
    coupons.remember(key, &id);
    Ok(id)
}

async fn find_or_create_coupon(
    client: &StripeClient,
    key: &SecretKey,
    params: &CouponParams,
    idempotency_key: &str,
) -> Result<String, StripeError> {
    let coupon_key = format!("{idempotency_key}-coupon");
    match client.create_coupon(key, params, &coupon_key).await {
        Ok(coupon) => Ok(coupon.id),
        Err(e) if e.code() == Some("resource_already_exists") => {
            match client.get_coupon(key, &params.id).await? {
                Some(existing) => {
                    if existing.percent_off != Some(params.percent_off)
                        || existing.duration != params.duration.as_str()
                    {
                        // The id encodes the terms, so this means someone
                        // hand-made a coupon with our id. Use it, but say so.
                        tracing::warn!(coupon_id = %existing.id, "existing coupon's terms differ from the offer");
                    }
                    if !existing.valid {
                        tracing::warn!(coupon_id = %existing.id, "reusing a coupon Stripe marks invalid");
                    }
                    Ok(existing.id)
                }
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn spec(kind: OfferKind, value: f64, config: Value) -> OfferSpec {
        OfferSpec {
            offer_id: 42,
            org_id: 7,
            kind,
            value,
            config,
        }
    }

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn sub(v: Value) -> Subscription {
        serde_json::from_value(v).unwrap()
    }

    fn form(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn discount_plan_uses_deterministic_coupon() {
        let s = spec(
            OfferKind::Discount,
            20.0,
            json!({"duration": "repeating", "duration_in_months": 3}),
        );
        let ChangePlan::Discount { coupon } = plan_change(&s, t(2025, 1, 1)).unwrap() else {
            panic!("expected a discount plan");
        };
        assert_eq!(coupon.id, "saveloops_o7_offer42_20pct_repeating3m");
        assert_eq!(coupon.percent_off, 20.0);
        assert_eq!(
            coupon.duration,
            CouponDuration::Repeating {
                duration_in_months: 3
            }
        );
        assert_eq!(coupon.name, None);
        // Same inputs, same id: retries and other customers share the coupon.
        assert_eq!(coupon_for(&s).unwrap(), coupon);
        assert_eq!(
            discount_form(&coupon.id),
            form(&[(
                "discounts[0][coupon]",
                "saveloops_o7_offer42_20pct_repeating3m"
            )])
        );
    }

    #[test]
    fn discount_durations_and_fractions() {
        let once = coupon_for(&spec(OfferKind::Discount, 12.5, json!({}))).unwrap();
        assert_eq!(once.id, "saveloops_o7_offer42_12p5pct_once");
        assert_eq!(once.duration, CouponDuration::Once);
        let forever = coupon_for(&spec(
            OfferKind::Discount,
            50.0,
            json!({"duration": "forever"}),
        ))
        .unwrap();
        assert_eq!(forever.id, "saveloops_o7_offer42_50pct_forever");
        let months_as_string = coupon_for(&spec(
            OfferKind::Discount,
            10.0,
            json!({"duration": "repeating", "duration_in_months": "6"}),
        ))
        .unwrap();
        assert_eq!(months_as_string.duration.months(), Some(6));
    }

    #[test]
    fn discount_rejects_bad_config() {
        for (value, config) in [
            (0.0, json!({})),
            (-5.0, json!({})),
            (100.5, json!({})),
            (f64::NAN, json!({})),
            (20.0, json!({"duration": "repeating"})),
            (
                20.0,
                json!({"duration": "repeating", "duration_in_months": 0}),
            ),
            (20.0, json!({"duration": "sometimes"})),
            (20.0, json!({"duration": 3})),
        ] {
            let err = plan_change(
                &spec(OfferKind::Discount, value, config.clone()),
                t(2025, 1, 1),
            )
            .unwrap_err();
            assert!(
                matches!(err, NoStripeAction::InvalidConfig { .. }),
                "{value} {config}: {err:?}"
            );
        }
    }

    #[test]
    fn pause_plan_uses_calendar_months_and_default_behavior() {
        let now = t(2025, 1, 31);
        let ChangePlan::Update { form: f } =
            plan_change(&spec(OfferKind::Pause, 1.0, json!({})), now).unwrap()
        else {
            panic!("expected an update");
        };
        // Jan 31 + 1 calendar month = Feb 28 (not "+30 days").
        let expected = t(2025, 2, 28).timestamp().to_string();
        assert_eq!(
            f,
            form(&[
                ("pause_collection[behavior]", "void"),
                ("pause_collection[resumes_at]", &expected),
            ])
        );
        let ChangePlan::Update { form: f } = plan_change(
            &spec(OfferKind::Pause, 2.0, json!({"behavior": "keep_as_draft"})),
            now,
        )
        .unwrap() else {
            panic!("expected an update");
        };
        assert_eq!(f[0].1, "keep_as_draft");
        assert_eq!(f[1].1, t(2025, 3, 31).timestamp().to_string());
    }

    #[test]
    fn pause_rejects_bad_values() {
        for (v, c) in [
            (0.0, json!({})),
            (1.5, json!({})),
            (-1.0, json!({})),
            (1.0, json!({"behavior": "freeze"})),
        ] {
            assert!(plan_change(&spec(OfferKind::Pause, v, c), t(2025, 1, 1)).is_err());
        }
    }

    #[test]
    fn trial_extension_adds_to_the_later_of_now_and_trial_end() {
        let now = t(2025, 1, 1);
        let ChangePlan::NeedsSubscription(pending) =
            plan_change(&spec(OfferKind::TrialExtension, 14.0, json!({})), now).unwrap()
        else {
            panic!("expected pending");
        };
        let running = sub(json!({"id": "sub_1", "trial_end": t(2025, 1, 5).timestamp()}));
        assert_eq!(
            pending.resolve(&running, now).unwrap(),
            form(&[
                ("trial_end", &t(2025, 1, 19).timestamp().to_string()),
                ("proration_behavior", "none"),
            ])
        );
        let expired = sub(json!({"id": "sub_1", "trial_end": t(2024, 12, 1).timestamp()}));
        assert_eq!(
            pending.resolve(&expired, now).unwrap()[0].1,
            t(2025, 1, 15).timestamp().to_string()
        );
        let none = sub(json!({"id": "sub_1", "trial_end": null}));
        assert_eq!(
            pending.resolve(&none, now).unwrap()[0].1,
            t(2025, 1, 15).timestamp().to_string()
        );
        assert!(plan_change(&spec(OfferKind::TrialExtension, 731.0, json!({})), now).is_err());
    }

    #[test]
    fn downgrade_swaps_first_item_price() {
        let s = spec(
            OfferKind::Downgrade,
            0.0,
            json!({"price_id": "price_basic"}),
        );
        let ChangePlan::NeedsSubscription(pending) = plan_change(&s, t(2025, 1, 1)).unwrap() else {
            panic!("expected pending");
        };
        let current = sub(json!({"id": "sub_1", "items": {"data": [
            {"id": "si_1", "price": {"id": "price_pro"}}, {"id": "si_2", "price": {"id": "price_addon"}}
        ]}}));
        assert_eq!(
            pending.resolve(&current, t(2025, 1, 1)).unwrap(),
            form(&[("items[0][id]", "si_1"), ("items[0][price]", "price_basic")])
        );
        let empty = sub(json!({"id": "sub_1", "items": {"data": []}}));
        assert_eq!(
            pending.resolve(&empty, t(2025, 1, 1)).unwrap_err(),
            NoStripeAction::NoSubscriptionItems("sub_1".into())
        );
        assert!(plan_change(&spec(OfferKind::Downgrade, 0.0, json!({})), t(2025, 1, 1)).is_err());
        assert!(plan_change(
            &spec(OfferKind::Downgrade, 0.0, json!({"price_id": " "})),
            t(2025, 1, 1)
        )
        .is_err());
    }

    #[test]
    fn contact_and_custom_have_no_stripe_action() {
        for kind in [OfferKind::Contact, OfferKind::Custom] {
            assert_eq!(
                plan_change(&spec(kind, 0.0, json!({})), t(2025, 1, 1)).unwrap_err(),
                NoStripeAction::NotApplicable(kind)
            );
            assert!(!kind.has_stripe_action());
        }
        let e = ApplyError::from(NoStripeAction::NotApplicable(OfferKind::Contact));
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), "`contact` offers have no Stripe action");
    }

    #[test]
    fn offer_kind_round_trips() {
        for k in [
            OfferKind::Discount,
            OfferKind::Pause,
            OfferKind::TrialExtension,
            OfferKind::Downgrade,
            OfferKind::Contact,
            OfferKind::Custom,
        ] {
            assert_eq!(OfferKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert_eq!(OfferKind::parse("nope"), None);
    }

    #[test]
    fn change_visible_compares_the_planned_form_with_the_subscription() {
        let with_coupon = sub(json!({"id": "sub_1", "discounts": [
            {"id": "di_1", "object": "discount", "coupon": {"id": "c_20"}}
        ]}));
        let bare = sub(json!({"id": "sub_1", "discounts": ["di_1"]}));
        assert!(change_visible(&discount_form("c_20"), &with_coupon));
        assert!(!change_visible(&discount_form("c_20"), &bare));

        let paused = sub(
            json!({"id": "sub_1", "pause_collection": {"behavior": "void", "resumes_at": 100}}),
        );
        assert!(change_visible(
            &pause_form(PauseBehavior::Void, 100),
            &paused
        ));
        assert!(!change_visible(
            &pause_form(PauseBehavior::Void, 200),
            &paused
        ));
        assert!(!change_visible(
            &pause_form(PauseBehavior::KeepAsDraft, 100),
            &paused
        ));
        assert!(!change_visible(
            &pause_form(PauseBehavior::Void, 100),
            &bare
        ));

        let trial = sub(json!({"id": "sub_1", "trial_end": 5000}));
        assert!(change_visible(&trial_extension_form(5000), &trial));
        assert!(!change_visible(&trial_extension_form(6000), &trial));

        let on = |p: &str| {
            sub(json!({"id": "sub_1", "items": {"data": [{"id": "si_1", "price": {"id": p}}]}}))
        };
        assert!(change_visible(
            &downgrade_form("si_1", "price_basic"),
            &on("price_basic")
        ));
        assert!(!change_visible(
            &downgrade_form("si_1", "price_basic"),
            &on("price_pro")
        ));

        assert!(
            !change_visible(&[], &with_coupon),
            "an empty form proves nothing"
        );
    }

    #[test]
    fn coupons_carry_only_documented_parameters() {
        let s = spec(OfferKind::Discount, 20.0, json!({"duration": "once"}));
        let names: Vec<String> = coupon_for(&s)
            .unwrap()
            .to_form()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["id", "percent_off", "duration"]);
    }
}

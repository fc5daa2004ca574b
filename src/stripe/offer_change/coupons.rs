//! The coupon a discount offer uses: its deterministic terms and id, and creating or
//! reusing it at Stripe.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::super::client::{format_percent, CouponDuration, CouponParams, SecretKey, StripeClient};
use super::super::error::StripeError;
use super::offer::{NoStripeAction, OfferSpec};
use super::terms::{coupon_duration, invalid};

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
pub(super) async fn ensure_coupon(
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
    use serde_json::json;

    use super::super::fixtures::spec;
    use super::super::offer::OfferKind;

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

//! Reading an offer's value and config into the terms of its change, rejecting
//! misconfigured offers.

use serde_json::Value;

use super::super::client::CouponDuration;
use super::forms::PauseBehavior;
use super::offer::{NoStripeAction, OfferSpec};

pub(super) fn invalid(spec: &OfferSpec, reason: impl Into<String>) -> NoStripeAction {
    NoStripeAction::InvalidConfig {
        offer_id: spec.offer_id,
        kind: spec.kind,
        reason: reason.into(),
    }
}

/// `spec.value` as a positive whole number (months/days): fractional values
/// are rejected rather than silently rounded.
pub(super) fn whole_number(spec: &OfferSpec, unit: &str) -> Result<u32, NoStripeAction> {
    let v = spec.value;
    if !v.is_finite() || v < 1.0 || v.fract().abs() > 1e-9 || v > f64::from(u32::MAX) {
        return Err(invalid(
            spec,
            format!("value must be a positive whole number of {unit}, got {v}"),
        ));
    }
    Ok(v.round() as u32)
}

pub(super) fn config_str<'a>(spec: &'a OfferSpec, key: &str) -> Option<&'a str> {
    spec.config.get(key).and_then(Value::as_str)
}

pub(super) fn coupon_duration(spec: &OfferSpec) -> Result<CouponDuration, NoStripeAction> {
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

pub(super) fn pause_behavior(spec: &OfferSpec) -> Result<PauseBehavior, NoStripeAction> {
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

pub(super) fn downgrade_price(spec: &OfferSpec) -> Result<String, NoStripeAction> {
    match config_str(spec, "price_id").map(str::trim) {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(invalid(spec, "downgrade needs a `price_id` in its config")),
    }
}

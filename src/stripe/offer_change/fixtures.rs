//! Offers, times, subscriptions and forms the unit tests build.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::super::client::Subscription;
use super::offer::{OfferKind, OfferSpec};

pub(super) fn spec(kind: OfferKind, value: f64, config: Value) -> OfferSpec {
    OfferSpec {
        offer_id: 42,
        org_id: 7,
        kind,
        value,
        config,
    }
}

pub(super) fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

pub(super) fn sub(v: Value) -> Subscription {
    serde_json::from_value(v).unwrap()
}

pub(super) fn form(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

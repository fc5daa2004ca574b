//! The parts of a Stripe subscription Saveloops reads, parsed leniently from any shape
//! Stripe returns.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// One subscription item (`items.data[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionItem {
    pub id: String,
    pub price_id: String,
    pub quantity: Option<i64>,
    /// Since 2025-03-31.basil billing periods live on items.
    pub current_period_end: Option<i64>,
}

/// `pause_collection` of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct PauseCollection {
    /// `keep_as_draft` | `mark_uncollectible` | `void`.
    pub behavior: String,
    pub resumes_at: Option<i64>,
}

/// The parts of a Stripe subscription that Saveloops looks at, read leniently
/// from whatever Stripe returns (unknown fields ignored, expandable fields
/// accepted as ids or objects), plus the full JSON in `raw`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Subscription {
    pub id: String,
    /// Customer id (also when `customer` was expanded into an object).
    pub customer: String,
    pub status: String,
    pub items: Vec<SubscriptionItem>,
    /// Coupon ids of the discounts on the subscription. Only discoverable from
    /// expanded discount objects — which is why the client always sends
    /// `expand[]=discounts`. Reads `coupon` (basil) and `source.coupon`
    /// (later versions), from `discounts[]` and from the legacy singular
    /// `discount`.
    pub discounts: Vec<String>,
    /// Discount ids (`di_…`) from `discounts[]`, expanded or not.
    pub discount_ids: Vec<String>,
    pub pause_collection: Option<PauseCollection>,
    pub trial_end: Option<i64>,
    /// Top-level field before basil, else the first item's period end.
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub metadata: BTreeMap<String, String>,
    /// The object exactly as Stripe sent it.
    pub raw: Value,
}

impl Subscription {
    pub fn first_item(&self) -> Option<&SubscriptionItem> {
        self.items.first()
    }

    pub fn has_coupon(&self, coupon_id: &str) -> bool {
        self.discounts.iter().any(|c| c == coupon_id)
    }
}

/// An expandable field: either `"id"` or `{"id": ...}`.
fn expandable_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Coupon id of an expanded discount object, whichever shape Stripe used.
fn discount_coupon_id(d: &Value) -> Option<String> {
    d.get("coupon")
        .and_then(expandable_id)
        .or_else(|| d.pointer("/source/coupon").and_then(expandable_id))
}

impl TryFrom<Value> for Subscription {
    type Error = String;

    fn try_from(raw: Value) -> Result<Self, Self::Error> {
        let id = raw
            .get("id")
            .and_then(Value::as_str)
            .ok_or("subscription has no `id`")?
            .to_string();
        if let Some(object) = raw.get("object").and_then(Value::as_str) {
            if object != "subscription" {
                return Err(format!("expected a subscription, got object `{object}`"));
            }
        }
        let str_field = |k: &str| {
            raw.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };

        let items: Vec<SubscriptionItem> = raw
            .pointer("/items/data")
            .and_then(Value::as_array)
            .map(|data| {
                data.iter()
                    .filter_map(|it| {
                        Some(SubscriptionItem {
                            id: it.get("id")?.as_str()?.to_string(),
                            price_id: it
                                .get("price")
                                .and_then(expandable_id)
                                .or_else(|| it.get("plan").and_then(expandable_id))
                                .unwrap_or_default(),
                            quantity: it.get("quantity").and_then(Value::as_i64),
                            current_period_end: it
                                .get("current_period_end")
                                .and_then(Value::as_i64),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();

        let mut discounts = Vec::new();
        let mut discount_ids = Vec::new();
        let listed = raw
            .get("discounts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let singular = raw.get("discount").filter(|d| d.is_object()).cloned();
        for d in listed.iter().chain(singular.iter()) {
            if let Some(di) = expandable_id(d) {
                if !discount_ids.contains(&di) {
                    discount_ids.push(di);
                }
            }
            if let Some(coupon) = discount_coupon_id(d) {
                if !discounts.contains(&coupon) {
                    discounts.push(coupon);
                }
            }
        }

        let pause_collection = raw
            .get("pause_collection")
            .filter(|p| p.is_object())
            .map(|p| PauseCollection {
                behavior: p
                    .get("behavior")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                resumes_at: p.get("resumes_at").and_then(Value::as_i64),
            });

        let metadata = raw
            .get("metadata")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();

        let current_period_end = raw
            .get("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| items.first().and_then(|i| i.current_period_end));

        Ok(Subscription {
            customer: raw
                .get("customer")
                .and_then(expandable_id)
                .unwrap_or_default(),
            status: str_field("status"),
            trial_end: raw.get("trial_end").and_then(Value::as_i64),
            cancel_at_period_end: raw
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            id,
            items,
            discounts,
            discount_ids,
            pause_collection,
            current_period_end,
            metadata,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subscription_basil_expanded() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "trialing",
            "items": {"object": "list", "data": [
                {"id": "si_1", "object": "subscription_item", "price": {"id": "price_a", "object": "price"},
                 "quantity": 2, "current_period_end": 1700000000}
            ]},
            "discounts": [
                {"id": "di_1", "object": "discount", "coupon": {"id": "save20", "object": "coupon"}},
                {"id": "di_2", "object": "discount", "source": {"type": "coupon", "coupon": "later"}}
            ],
            "pause_collection": {"behavior": "void", "resumes_at": 1800000000},
            "trial_end": 1750000000,
            "metadata": {"k": "v"},
            "some_future_field": {"x": 1}
        }))
        .unwrap();
        assert_eq!(sub.customer, "cus_1");
        assert_eq!(sub.items[0].price_id, "price_a");
        assert_eq!(sub.items[0].quantity, Some(2));
        assert_eq!(sub.discounts, vec!["save20", "later"]);
        assert_eq!(sub.discount_ids, vec!["di_1", "di_2"]);
        assert_eq!(
            sub.pause_collection,
            Some(PauseCollection {
                behavior: "void".into(),
                resumes_at: Some(1800000000)
            })
        );
        assert_eq!(sub.trial_end, Some(1750000000));
        assert_eq!(sub.current_period_end, Some(1700000000));
        assert_eq!(sub.metadata["k"], "v");
        assert_eq!(sub.raw["some_future_field"]["x"], 1);
    }

    #[test]
    fn subscription_unexpanded_and_legacy() {
        let sub: Subscription = serde_json::from_value(json!({
            "id": "sub_2", "customer": {"id": "cus_9", "object": "customer"}, "status": "active",
            "items": {"data": [{"id": "si_1", "price": "price_b"}]},
            "discounts": ["di_9"],
            "discount": {"id": "di_9", "object": "discount", "coupon": {"id": "old"}},
            "pause_collection": null, "trial_end": null, "current_period_end": 1690000000
        }))
        .unwrap();
        assert_eq!(sub.customer, "cus_9");
        assert_eq!(sub.items[0].price_id, "price_b");
        assert_eq!(sub.discount_ids, vec!["di_9"]);
        assert_eq!(sub.discounts, vec!["old"]);
        assert_eq!(sub.pause_collection, None);
        assert_eq!(sub.trial_end, None);
        assert_eq!(sub.current_period_end, Some(1690000000));
    }

    #[test]
    fn subscription_requires_id_and_type() {
        assert!(serde_json::from_value::<Subscription>(json!({"status": "active"})).is_err());
        assert!(
            serde_json::from_value::<Subscription>(json!({"id": "cpn", "object": "coupon"}))
                .is_err()
        );
    }
}

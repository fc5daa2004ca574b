//! Whether a subscription already shows a planned change, for when Stripe's idempotent
//! replay cannot be relied on.

use super::super::client::Subscription;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::super::fixtures::sub;
    use super::super::forms::{
        discount_form, downgrade_form, pause_form, trial_extension_form, PauseBehavior,
    };

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
}

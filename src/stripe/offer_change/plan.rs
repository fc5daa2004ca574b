//! Planning an offer's Stripe change: pure, with time passed in, so every rule is
//! unit-testable.

use chrono::{DateTime, Utc};

use super::super::client::{CouponParams, Subscription};
use super::coupons::coupon_for;
use super::forms::{
    downgrade_form, pause_form, pause_resumes_at, trial_extension_form, trial_extension_target,
};
use super::offer::{NoStripeAction, OfferKind, OfferSpec};
use super::terms::{downgrade_price, invalid, pause_behavior, whole_number};

/// Stripe rejects a `trial_end` more than this far in the future.
pub const MAX_TRIAL_DAYS: u32 = 730;

/// What to do at Stripe for an offer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangePlan {
    /// Create (or reuse) this coupon, then update the subscription with
    /// [`discount_form`] of its id.
    ///
    /// [`discount_form`]: super::forms::discount_form
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use super::super::super::client::CouponDuration;
    use super::super::apply::ApplyError;
    use super::super::fixtures::{form, spec, sub, t};
    use super::super::forms::discount_form;

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
}

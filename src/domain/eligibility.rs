//! Offer eligibility: cooldowns, redemption caps and the "needs a subscription" rule, as
//! pure functions over what is known of the end user. The database part lives in
//! `crate::store::eligibility`.
use chrono::{DateTime, TimeDelta, Utc};

use super::OfferType;

/// The organization's own settings (`GET/PATCH /api/v1/settings`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSettings {
    /// Default cooldown of an offer after an end user accepted it.
    pub offer_cooldown_days: Option<u32>,
    /// Default cooldown of every offer of a type after an end user accepted one of that type.
    pub type_cooldown_days: Option<u32>,
    /// Default number of times one end user may accept the same offer.
    pub max_redemptions_per_user: Option<u32>,
    /// Hide offers that change a subscription when the request gives no way to find one.
    pub require_subscription_for_changes: bool,
    pub experiment_confidence: f64,
    pub experiment_min_sample_size: u32,
    /// Browser origins allowed to call the cancel flow, as browsers send them
    /// (`crate::domain::origin`); none by default.
    pub allowed_origins: Vec<String>,
    /// How long a save must last (the subscription neither deleted nor set to cancel) to
    /// count as held.
    pub save_validation_days: u32,
}

pub const DEFAULT_CONFIDENCE: f64 = 0.95;
pub const DEFAULT_MIN_SAMPLE_SIZE: u32 = 100;
/// Chargebee Retention's window: a save counts when the customer stayed 30 days.
pub const DEFAULT_SAVE_VALIDATION_DAYS: u32 = 30;
/// Longest save-validation window accepted: a year.
pub const MAX_SAVE_VALIDATION_DAYS: u32 = 365;
/// Longest cooldown accepted: ten years.
pub const MAX_COOLDOWN_DAYS: u32 = 3650;

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings {
            offer_cooldown_days: None,
            type_cooldown_days: None,
            max_redemptions_per_user: None,
            require_subscription_for_changes: false,
            experiment_confidence: DEFAULT_CONFIDENCE,
            experiment_min_sample_size: DEFAULT_MIN_SAMPLE_SIZE,
            allowed_origins: Vec::new(),
            save_validation_days: DEFAULT_SAVE_VALIDATION_DAYS,
        }
    }
}

impl OrgSettings {
    /// Whether a request's `Origin` header names one of the allowed origins (exactly: they
    /// are stored as browsers send them).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }
}

/// An offer's own rules. `None` takes the organization's default; `Some(0)` turns a rule
/// off for this offer (a cooldown or per-user cap the organization sets by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OfferRules {
    pub cooldown_days: Option<u32>,
    pub type_cooldown_days: Option<u32>,
    /// Total acceptances over all end users (no organization default).
    pub max_redemptions: Option<u32>,
    pub max_redemptions_per_user: Option<u32>,
    pub requires_subscription: Option<bool>,
}

/// The rules that apply to one offer, defaults resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub cooldown_days: Option<u32>,
    pub type_cooldown_days: Option<u32>,
    pub max_redemptions: Option<u32>,
    pub max_redemptions_per_user: Option<u32>,
    pub requires_subscription: bool,
}

/// Offer types whose Stripe action changes the subscription.
pub fn changes_subscription(kind: OfferType) -> bool {
    matches!(
        kind,
        OfferType::Discount | OfferType::Pause | OfferType::TrialExtension | OfferType::Downgrade
    )
}

impl Rules {
    pub fn resolve(offer: &OfferRules, org: &OrgSettings, kind: OfferType) -> Rules {
        let positive = |v: Option<u32>| v.filter(|d| *d > 0);
        Rules {
            cooldown_days: positive(offer.cooldown_days.or(org.offer_cooldown_days)),
            type_cooldown_days: positive(offer.type_cooldown_days.or(org.type_cooldown_days)),
            max_redemptions: positive(offer.max_redemptions),
            max_redemptions_per_user: positive(
                offer
                    .max_redemptions_per_user
                    .or(org.max_redemptions_per_user),
            ),
            requires_subscription: changes_subscription(kind)
                && offer
                    .requires_subscription
                    .unwrap_or(org.require_subscription_for_changes),
        }
    }

    /// Whether checking needs the end user's acceptances.
    pub fn needs_history(&self) -> bool {
        self.cooldown_days.is_some()
            || self.type_cooldown_days.is_some()
            || self.max_redemptions_per_user.is_some()
    }

    /// Whether checking needs the offer's total acceptances.
    pub fn needs_total(&self) -> bool {
        self.max_redemptions.is_some()
    }
}

/// One earlier acceptance by the end user: a saved outcome, or an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acceptance {
    pub offer_id: i64,
    /// None when the offer is gone.
    pub kind: Option<OfferType>,
    pub at: DateTime<Utc>,
}

/// Why an offer is not available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    #[error("this offer changes a subscription, and the request gives no way to find one (send stripe_subscription_id or stripe_customer_id)")]
    NoSubscription,
    #[error("the customer accepted this offer on {}, and it is not offered again until {} (cooldown of {days} days)", date(*.at), date(*.at + TimeDelta::days(i64::from(*.days))))]
    Cooldown { at: DateTime<Utc>, days: u32 },
    #[error("the customer accepted a {} offer on {}, and {} offers are not offered again until {} (cooldown of {days} days)", .kind.as_str(), date(*.at), .kind.as_str(), date(*.at + TimeDelta::days(i64::from(*.days))))]
    TypeCooldown {
        kind: OfferType,
        at: DateTime<Utc>,
        days: u32,
    },
    #[error("the customer has already redeemed this offer {} ({cap} per customer)", times(*.cap))]
    UserCap { cap: u32 },
    #[error("this offer has reached its limit of {cap} redemptions")]
    TotalCap { cap: u32 },
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn times(n: u32) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// What is known when checking one offer.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub now: DateTime<Utc>,
    /// The end user's acceptances; None for an anonymous request (per-user rules cannot apply).
    pub history: Option<&'a [Acceptance]>,
    /// The offer's acceptances over all end users, when it has a total cap.
    pub total: u64,
    /// The request names a subscription or a Stripe customer (directly or through the end user).
    pub subscription_known: bool,
}

pub fn check(
    offer_id: i64,
    kind: OfferType,
    rules: &Rules,
    facts: Facts<'_>,
) -> Result<(), Ineligible> {
    if rules.requires_subscription && !facts.subscription_known {
        return Err(Ineligible::NoSubscription);
    }
    if let Some(cap) = rules.max_redemptions {
        if facts.total >= u64::from(cap) {
            return Err(Ineligible::TotalCap { cap });
        }
    }
    let Some(history) = facts.history else {
        return Ok(());
    };
    let latest = |matching: &dyn Fn(&Acceptance) -> bool| {
        history.iter().filter(|a| matching(a)).map(|a| a.at).max()
    };
    if let Some(days) = rules.cooldown_days {
        if let Some(at) = latest(&|a| a.offer_id == offer_id) {
            if facts.now < at + TimeDelta::days(i64::from(days)) {
                return Err(Ineligible::Cooldown { at, days });
            }
        }
    }
    if let Some(days) = rules.type_cooldown_days {
        if let Some(at) = latest(&|a| a.kind == Some(kind)) {
            if facts.now < at + TimeDelta::days(i64::from(days)) {
                return Err(Ineligible::TypeCooldown { kind, at, days });
            }
        }
    }
    if let Some(cap) = rules.max_redemptions_per_user {
        let used = history.iter().filter(|a| a.offer_id == offer_id).count();
        if used >= cap as usize {
            return Err(Ineligible::UserCap { cap });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(offer_id: i64, kind: OfferType, days_ago: i64, now: DateTime<Utc>) -> Acceptance {
        Acceptance {
            offer_id,
            kind: Some(kind),
            at: now - TimeDelta::days(days_ago),
        }
    }

    #[test]
    fn offer_values_override_org_defaults_and_zero_turns_a_rule_off() {
        let org = OrgSettings {
            offer_cooldown_days: Some(30),
            type_cooldown_days: Some(7),
            max_redemptions_per_user: Some(1),
            require_subscription_for_changes: true,
            ..OrgSettings::default()
        };
        let inherited = Rules::resolve(&OfferRules::default(), &org, OfferType::Discount);
        assert_eq!(inherited.cooldown_days, Some(30));
        assert_eq!(inherited.max_redemptions_per_user, Some(1));
        assert!(inherited.requires_subscription);
        let own = OfferRules {
            cooldown_days: Some(0),
            type_cooldown_days: Some(90),
            max_redemptions_per_user: Some(0),
            requires_subscription: Some(false),
            ..OfferRules::default()
        };
        let resolved = Rules::resolve(&own, &org, OfferType::Discount);
        assert_eq!(resolved.cooldown_days, None);
        assert_eq!(resolved.type_cooldown_days, Some(90));
        assert_eq!(resolved.max_redemptions_per_user, None);
        assert!(!resolved.requires_subscription);
        // A contact offer changes nothing at Stripe: it never needs a subscription.
        assert!(
            !Rules::resolve(&OfferRules::default(), &org, OfferType::Contact).requires_subscription
        );
    }

    #[test]
    fn cooldowns_caps_and_subscriptions() {
        let now = Utc::now();
        let rules = Rules {
            cooldown_days: Some(30),
            type_cooldown_days: None,
            max_redemptions: Some(2),
            max_redemptions_per_user: Some(2),
            requires_subscription: true,
        };
        let facts = |history: Option<&'static [Acceptance]>, total, subscription_known| Facts {
            now,
            history,
            total,
            subscription_known,
        };
        assert_eq!(
            check(1, OfferType::Discount, &rules, facts(None, 0, true)),
            Ok(())
        );
        assert_eq!(
            check(1, OfferType::Discount, &rules, facts(None, 0, false)),
            Err(Ineligible::NoSubscription)
        );
        assert_eq!(
            check(1, OfferType::Discount, &rules, facts(None, 2, true)),
            Err(Ineligible::TotalCap { cap: 2 })
        );
        let recent: &'static [Acceptance] =
            Box::leak(Box::new([accepted(1, OfferType::Discount, 10, now)]));
        assert!(matches!(
            check(1, OfferType::Discount, &rules, facts(Some(recent), 1, true)),
            Err(Ineligible::Cooldown { days: 30, .. })
        ));
        // Another offer of the same type is not under this offer's cooldown.
        assert_eq!(
            check(2, OfferType::Discount, &rules, facts(Some(recent), 0, true)),
            Ok(())
        );
        let old: &'static [Acceptance] = Box::leak(Box::new([
            accepted(1, OfferType::Discount, 100, now),
            accepted(1, OfferType::Discount, 40, now),
        ]));
        assert_eq!(
            check(1, OfferType::Discount, &rules, facts(Some(old), 0, true)),
            Err(Ineligible::UserCap { cap: 2 })
        );
        let by_type = Rules {
            type_cooldown_days: Some(14),
            cooldown_days: None,
            max_redemptions_per_user: None,
            ..rules
        };
        let error = check(
            2,
            OfferType::Discount,
            &by_type,
            facts(Some(recent), 0, true),
        )
        .unwrap_err();
        assert!(matches!(error, Ineligible::TypeCooldown { days: 14, .. }));
        assert!(
            error.to_string().contains("accepted a discount offer"),
            "{error}"
        );
        assert_eq!(
            check(2, OfferType::Pause, &by_type, facts(Some(recent), 0, true)),
            Ok(())
        );
    }
}

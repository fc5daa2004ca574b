//! The accepted offer as the job stores it, and why one may have no Stripe change.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}

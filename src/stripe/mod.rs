//! Stripe integration: a minimal REST client, and the logic that turns an
//! accepted retention offer into a subscription change.
//!
//! Everything here is self-contained (only `super::`/`self::` paths), pinned
//! to [`STRIPE_VERSION`].

pub mod client;
pub mod error;
pub mod offer_change;

pub use client::{
    Coupon, CouponDuration, CouponParams, PauseCollection, ResponseMeta, SecretKey, StripeClient,
    Subscription, SubscriptionItem, MAX_IDEMPOTENCY_KEY_LEN, STRIPE_VERSION,
};
pub use error::{ApiErrorBody, StripeError, TransportKind};
pub use offer_change::{
    change_visible, plan_change, prepare_change, send_change, AppliedChange, ApplyError,
    ChangePlan, KnownCoupons, NoStripeAction, OfferKind, OfferSpec, PauseBehavior, PendingChange,
};

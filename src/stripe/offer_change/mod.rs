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
//!
//! [`StripeClient`]: super::client::StripeClient

mod apply;
mod coupons;
#[cfg(test)]
mod fixtures;
mod forms;
mod offer;
mod plan;
mod terms;
mod visibility;

pub use apply::{prepare_change, send_change, AppliedChange, ApplyError};
pub use coupons::{coupon_for, coupon_id, KnownCoupons};
pub use forms::{
    discount_form, downgrade_form, pause_form, pause_resumes_at, trial_extension_form,
    trial_extension_target, PauseBehavior,
};
pub use offer::{NoStripeAction, OfferKind, OfferSpec};
pub use plan::{plan_change, ChangePlan, PendingChange, MAX_TRIAL_DAYS};
pub use visibility::change_visible;

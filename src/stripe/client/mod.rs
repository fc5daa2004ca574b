//! A deliberately small Stripe REST client: exactly the four calls Saveloops
//! needs, form-encoded, pinned to one API version.
//!
//! The client never retries on its own. Retrying is the job runner's call
//! (it owns the idempotency key and the back-off schedule); the client's part
//! is to classify failures via [`StripeError::is_transient`].
//!
//! [`StripeError::is_transient`]: super::error::StripeError::is_transient

mod calls;
mod coupon;
mod idempotency;
mod secret_key;
mod subscription;
mod transport;

pub use calls::{Operation, StripeClient};
pub use coupon::{format_percent, Coupon, CouponDuration, CouponParams};
pub use idempotency::{validate_idempotency_key, MAX_IDEMPOTENCY_KEY_LEN};
pub use secret_key::SecretKey;
pub use subscription::{PauseCollection, Subscription, SubscriptionItem};
pub use transport::ResponseMeta;

/// The API version every request is pinned to. Since this version a
/// subscription takes `discounts[N][coupon]` (the singular `coupon` parameter
/// is gone) and billing periods live on subscription items.
pub const STRIPE_VERSION: &str = "2025-03-31.basil";

//! Validated domain types and rules: each input is parsed once, at the edge.
pub mod api_key;
pub mod eligibility;
pub mod email;
pub mod end_user_ref;
pub mod experiment;
pub mod experiment_draft;
pub mod fields;
pub mod money;
pub mod offer;
pub mod offer_draft;
pub mod origin;
pub mod paging;
pub mod payment_event;
pub mod session;
pub mod settings_draft;
pub mod stats;
pub mod stripe_event;
pub mod stripe_signature;
pub mod ticket;
pub mod trigger;
pub mod validation;

pub use api_key::ApiKey;
pub use email::Email;
pub use end_user_ref::EndUserRef;
pub use money::Mrr;
pub use offer::{OfferConfig, OfferType};
pub use trigger::Trigger;

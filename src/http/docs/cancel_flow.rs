//! Bodies of the cancel flow: the intercept that picks offers to show, and the outcome.

use serde_json::Value;
use utoipa::ToSchema;

use super::offers::OfferTypeDoc;

#[derive(serde::Serialize, ToSchema)]
#[schema(as = Trigger)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDoc {
    Click,
    ExitIntent,
    Hover,
}

#[derive(serde::Serialize, ToSchema)]
pub struct InterceptRequest {
    #[schema(max_length = 255)]
    pub target_id: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    pub trigger: Option<TriggerDoc>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_subscription_id: Option<String>,
    /// At most 4 decimal places.
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

/// An offer as the cancel flow shows it.
#[derive(serde::Serialize, ToSchema)]
pub struct ShownOffer {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    pub value: f64,
    pub label: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// The experiment arm this offer comes from, if any.
    #[schema(value_type = Option<Object>)]
    pub experiment: Option<Value>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct InterceptResponse {
    pub offers: Vec<ShownOffer>,
    pub show_update_card: bool,
    pub show_onboarding_prompt: bool,
}

#[derive(serde::Serialize, ToSchema)]
#[schema(as = OutcomeStatus)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatusDoc {
    Saved,
    Abandoned,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OutcomeRequest {
    pub offer_id: i64,
    pub status: OutcomeStatusDoc,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CardUpdateRequest {
    /// The customer whose card is updated; a session's own customer when omitted (a session
    /// may name only its own).
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
    /// Where Stripe sends the end user back: an absolute `https://` URL (`http://` only for
    /// localhost); for a session, on one of the organization's allowed origins.
    #[schema(max_length = 2048)]
    pub return_url: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CardUpdatePage {
    /// Stripe's billing-portal page, opened at its card-update flow (short-lived).
    pub url: String,
}

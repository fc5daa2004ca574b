//! Bodies of the cancellation-reason analysis: the reason in, the suggested action out.

use utoipa::ToSchema;

use super::cancel_flow::ShownOffer;

#[derive(serde::Serialize, ToSchema)]
#[schema(as = SuggestedAction)]
#[serde(rename_all = "snake_case")]
pub enum SuggestedActionDoc {
    Discount,
    Pause,
    SetupCall,
    Support,
    None,
}

/// The language a reason is written in (ISO 639-1), among those the model reads; a reason
/// in another language is answered as the nearest of them.
#[derive(serde::Serialize, ToSchema)]
#[schema(as = ReasonLanguage)]
#[serde(rename_all = "lowercase")]
pub enum ReasonLanguageDoc {
    En,
    De,
    Fr,
    Es,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SentimentRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub target_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SentimentResponse {
    pub suggested_action: SuggestedActionDoc,
    /// The model's probability of the suggested action (0 to 1).
    pub confidence: f64,
    pub offers: Vec<ShownOffer>,
    /// Whether a support ticket was opened: only for a `support` reading at a confidence of
    /// at least `sentiment.ticket_min_confidence` (0.6 by default).
    pub create_support_ticket: bool,
    pub category: String,
    pub language: ReasonLanguageDoc,
    /// Polarity from -1 (furious) to 1.
    pub sentiment: f64,
    pub ticket_id: Option<i64>,
}

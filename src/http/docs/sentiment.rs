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
    pub create_support_ticket: bool,
    pub category: String,
    /// Polarity from -1 (furious) to 1.
    pub sentiment: f64,
    pub ticket_id: Option<i64>,
}

//! Bodies of applying an offer to the Stripe subscription, and of the application it leaves.

use utoipa::ToSchema;

#[derive(serde::Serialize, ToSchema)]
pub struct ApplyOfferRequest {
    pub offer_id: i64,
    #[schema(max_length = 255)]
    pub stripe_subscription_id: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

/// 202: Stripe failed transiently; the application is queued.
#[derive(serde::Serialize, ToSchema)]
pub struct ApplicationQueued {
    pub message: String,
    pub application_id: i64,
}

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Pending,
    Retrying,
    Applied,
    Failed,
    Dead,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Application {
    pub id: i64,
    pub offer_id: i64,
    pub stripe_subscription_id: String,
    pub status: ApplicationStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub applied_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

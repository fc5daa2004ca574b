//! Bodies of the payment-health signals: a dunning notice and a success signal.

use utoipa::ToSchema;

/// One of `user_email` / `stripe_customer_id` is required.
#[derive(serde::Serialize, ToSchema)]
pub struct DunningRequest {
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
}

/// One of `user_email` / `stripe_customer_id` is required.
#[derive(serde::Serialize, ToSchema)]
pub struct SuccessSignalRequest {
    #[schema(max_length = 64)]
    pub event: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SuccessRecorded {
    pub message: String,
    pub end_user_id: i64,
}

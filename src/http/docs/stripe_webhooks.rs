//! Bodies of Stripe's webhooks: the endpoint, its signing secrets, and what a delivery is
//! answered.

use utoipa::ToSchema;

/// The organization's webhook endpoint, to enter in Stripe's dashboard.
#[derive(serde::Serialize, ToSchema)]
pub struct WebhookEndpoint {
    #[schema(example = "we_0f1e2d3c4b5a69788796a5b4c3d2e1f0")]
    pub endpoint_id: String,
    /// `/api/v1/stripe/webhooks/{endpoint_id}`.
    pub path: String,
    /// The path on the host this request reached.
    pub url: String,
}

/// A signing secret from Stripe's dashboard.
#[derive(serde::Deserialize, ToSchema)]
pub struct WebhookSecretRequest {
    /// `whsec_…`, as Stripe shows it for the endpoint.
    #[schema(pattern = r"^\s*whsec_[A-Za-z0-9_]+\s*$", max_length = 255)]
    pub secret: String,
}

/// A stored signing secret; the secret itself is never answered.
#[derive(serde::Serialize, ToSchema)]
pub struct WebhookSecret {
    #[schema(example = "whk_3f9a1c2b7d4e5f60")]
    pub id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub active: bool,
}

/// The organization's webhook signing secrets, newest first.
#[derive(serde::Serialize, ToSchema)]
pub struct WebhookSecretList {
    pub data: Vec<WebhookSecret>,
}

/// A delivery was stored (`duplicate`: it was stored before, and changed nothing).
#[derive(serde::Serialize, ToSchema)]
pub struct StripeEventReceived {
    pub received: bool,
    pub duplicate: bool,
}

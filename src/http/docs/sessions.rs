//! Bodies of end-user sessions: signing secrets and signed session tokens.

use utoipa::ToSchema;

/// A signing secret; `secret` only in the answer that creates it.
#[derive(serde::Serialize, ToSchema)]
pub struct SigningSecret {
    /// The token header's `kid`.
    #[schema(example = "sks_3f9a1c2b7d4e5f60")]
    pub kid: String,
    /// Shown once, at creation: keep it in the backend that signs session tokens.
    pub secret: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub active: bool,
}

/// The organization's signing secrets, newest first, without the secrets.
#[derive(serde::Serialize, ToSchema)]
pub struct SigningSecretList {
    pub data: Vec<SigningSecret>,
}

/// The claims to sign: the end user, as the contract names them.
#[derive(serde::Deserialize, ToSchema)]
pub struct SessionRequest {
    /// Required when `stripe_customer_id` is absent.
    pub user_email: Option<String>,
    /// Required when `user_email` is absent.
    pub stripe_customer_id: Option<String>,
    /// The only subscription the session may apply an offer to.
    pub stripe_subscription_id: Option<String>,
    pub mrr_value: Option<f64>,
    /// Seconds until the token expires: 60 to 86400, 3600 by default.
    pub expires_in: Option<u32>,
}

/// A signed session token.
#[derive(serde::Serialize, ToSchema)]
pub struct SessionToken {
    pub token: String,
    pub kid: String,
    pub expires_at: String,
}

use sea_orm::entity::prelude::*;

/// A company that uses Saveloops (a tenant).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// The organization's Stripe secret key, AEAD-encrypted (nonce ‖ ciphertext, base64).
    pub stripe_key_ciphertext: Option<String>,
    pub ticket_webhook_url: Option<String>,
    /// The webhook's signing secret, AEAD-encrypted like the Stripe key.
    pub ticket_webhook_secret: Option<String>,
    /// `json` (signed JSON) or `slack` (Slack incoming-webhook text, signed too).
    pub ticket_webhook_format: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A secret an organization's backend signs end-user session tokens with; `kid` names it in
/// the token's header. The secret is sealed with the master key (it must be read back to
/// check signatures).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_secrets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    #[sea_orm(unique)]
    pub kid: String,
    pub secret_ciphertext: String,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

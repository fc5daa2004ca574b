use sea_orm::entity::prelude::*;

/// A person of an organization who signs in to the dashboard: `owner` or `support`. The
/// password hash (Argon2id, PHC string) is absent until the one-time invitation is used; the
/// invitation is stored as its token's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    #[sea_orm(unique)]
    pub email: String,
    pub role: String,
    pub password_hash: Option<String>,
    pub invite_token_hash: Option<String>,
    pub invite_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

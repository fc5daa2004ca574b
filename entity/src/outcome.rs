use sea_orm::entity::prelude::*;

/// What an end user chose after seeing an offer: saved or abandoned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outcomes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
    pub status: String,
    pub mrr_e4: Option<i64>,
    /// `outcome` (reported by the client) or `apply_offer` (an offer applied at Stripe).
    pub source: String,
    /// The experiment and arm this row is attributed to, if any.
    pub experiment_id: Option<i64>,
    pub experiment_arm: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

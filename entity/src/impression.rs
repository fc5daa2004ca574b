use sea_orm::entity::prelude::*;

/// What was shown to whom: one intercept answer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impressions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: String,
    pub trigger: Option<String>,
    pub mrr_e4: Option<i64>,
    /// JSON array of the offer ids shown, in order.
    pub offer_ids: String,
    /// The experiment and arm this row is attributed to, if any.
    pub experiment_id: Option<i64>,
    pub experiment_arm: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

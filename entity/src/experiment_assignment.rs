use sea_orm::entity::prelude::*;

/// An exposure: the arm a known end user (once per experiment) or an anonymous call (once
/// per call) was assigned to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "experiment_assignments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub experiment_id: i64,
    /// None for an anonymous call.
    pub end_user_id: Option<i64>,
    pub arm: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// One stretch of failed payments of an end user: from the first failure until a payment
/// success recovers them (`recovered_at`), or still open.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dunning_episodes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub end_user_id: i64,
    pub started_at: DateTimeUtc,
    pub last_failed_at: DateTimeUtc,
    pub failures: i32,
    pub recovered_at: Option<DateTimeUtc>,
    pub recovery_event: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

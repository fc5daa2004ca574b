use sea_orm::entity::prelude::*;

/// One of an organization's own customers, known by email and/or Stripe customer id,
/// with its payment health (dunning) and success state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "end_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub email: Option<String>,
    pub stripe_customer_id: Option<String>,
    /// True while a failed payment awaits a card update.
    pub needs_payment_update: bool,
    pub payment_failures: i32,
    pub first_failed_at: Option<DateTimeUtc>,
    pub last_failed_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_success_event: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

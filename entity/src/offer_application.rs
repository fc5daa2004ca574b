use sea_orm::entity::prelude::*;

/// The durable ledger of an accepted offer being applied to a Stripe subscription.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offer_applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub offer_id: i64,
    pub end_user_id: Option<i64>,
    pub stripe_subscription_id: String,
    /// Sent with every Stripe POST of this application, so a change lands once.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    /// pending | retrying | applied | failed | dead
    pub status: String,
    /// Stripe attempts made so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Stripe's error object of the last failure (JSON), for debug output.
    pub last_stripe_error: Option<String>,
    pub mrr_e4: Option<i64>,
    /// The exact Stripe parameters planned at the first attempt (JSON pairs), stored
    /// before they are first sent so that every attempt sends the same request.
    pub planned_change: Option<String>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub applied_at: Option<DateTimeUtc>,
    /// The experiment and arm this row is attributed to, if any.
    pub experiment_id: Option<i64>,
    pub experiment_arm: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

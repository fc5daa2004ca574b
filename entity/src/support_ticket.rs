use sea_orm::entity::prelude::*;

/// A ticket for support staff, opened when a cancellation reason calls for a human.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "support_tickets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub user_email: Option<String>,
    pub target_id: Option<String>,
    pub reason: String,
    pub category: String,
    /// Polarity of the reason, -1 (furious) to 1.
    pub sentiment: f64,
    /// urgent | high | normal | low
    pub priority: String,
    /// open | pending | solved
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    /// Webhook delivery: none (no webhook) | pending | retrying | delivered | failed | dead
    pub delivery_status: String,
    pub delivery_attempts: i32,
    pub delivery_last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

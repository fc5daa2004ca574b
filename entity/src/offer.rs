use sea_orm::entity::prelude::*;

/// A retention offer an organization can show in its cancel flow.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub value: f64,
    pub label: String,
    /// JSON object, validated per type.
    pub config: String,
    /// None matches every target.
    pub target_id: Option<String>,
    /// JSON array of triggers; empty matches every trigger.
    pub triggers: String,
    /// Money in ten-thousandths of the currency unit.
    pub min_mrr_e4: Option<i64>,
    pub max_mrr_e4: Option<i64>,
    pub priority: i32,
    pub active: bool,
    /// Eligibility rules; None means the organization's default (see OrganizationSetting).
    pub cooldown_days: Option<i32>,
    pub type_cooldown_days: Option<i32>,
    /// Total acceptances allowed; None is unlimited.
    pub max_redemptions: Option<i32>,
    pub max_redemptions_per_user: Option<i32>,
    pub requires_subscription: Option<bool>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

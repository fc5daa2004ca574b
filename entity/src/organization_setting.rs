use sea_orm::entity::prelude::*;

/// An organization's own settings: eligibility defaults for its offers, analysis defaults
/// for its experiments, how long a save must last to hold, and the browser origins allowed to call its cancel flow. No
/// row means the built-in defaults.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub organization_id: i64,
    pub offer_cooldown_days: Option<i32>,
    pub type_cooldown_days: Option<i32>,
    pub max_redemptions_per_user: Option<i32>,
    pub require_subscription_for_changes: bool,
    pub experiment_confidence: f64,
    pub experiment_min_sample_size: i32,
    /// A JSON array of origins (`["https://app.example.com"]`); NULL for none.
    pub allowed_origins: Option<String>,
    /// Days a save must last to hold; NULL for the default (30).
    pub save_validation_days: Option<i32>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// An A/B test of offers on one target (and optionally one trigger).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experiments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub target_id: String,
    pub trigger: Option<String>,
    /// draft | running | stopped
    pub status: String,
    /// JSON array of arms: `{"name", "offer_ids", "weight", "control"}`.
    pub arms: String,
    /// Confidence a winner needs (e.g. 0.95).
    pub confidence: f64,
    /// Exposures every compared arm needs before a winner can be declared.
    pub min_sample_size: i32,
    /// JSON array of the arm offers that were inactive when the experiment started.
    pub experiment_only_offer_ids: Option<String>,
    /// The arm whose offers were promoted when the experiment stopped.
    pub promoted_arm: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub stopped_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

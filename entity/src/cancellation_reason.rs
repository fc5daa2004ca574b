use sea_orm::entity::prelude::*;

/// A cancellation reason an end user gave, and what Saveloops made of it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cancellation_reasons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub target_id: Option<String>,
    pub reason: String,
    pub suggested_action: String,
    pub category: String,
    /// ISO 639-1 code of the language the reason is written in ("en", "de", "fr", "es");
    /// `None` for reasons read before languages were detected.
    pub language: Option<String>,
    pub confidence: f64,
    pub sentiment: f64,
    pub ticket_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Bodies of the offers an organization manages: the offer, its type, list, create, patch and delete.

use serde_json::Value;
use utoipa::ToSchema;

use super::cancel_flow::TriggerDoc;

#[derive(serde::Serialize, ToSchema)]
#[schema(as = OfferType)]
#[serde(rename_all = "snake_case")]
pub enum OfferTypeDoc {
    Discount,
    Pause,
    TrialExtension,
    Downgrade,
    Contact,
    Custom,
}

/// An offer as the organization manages it.
#[derive(serde::Serialize, ToSchema)]
pub struct Offer {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    pub value: f64,
    pub label: String,
    #[schema(value_type = Object)]
    pub config: Value,
    pub target_id: Option<String>,
    pub triggers: Vec<TriggerDoc>,
    pub min_mrr: Option<f64>,
    pub max_mrr: Option<f64>,
    pub priority: i64,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OfferList {
    pub data: Vec<Offer>,
}

/// A new offer. `config` is checked per type (see the README).
#[derive(serde::Serialize, ToSchema)]
pub struct OfferCreate {
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    #[schema(minimum = 0)]
    pub value: f64,
    #[schema(max_length = 255)]
    pub label: String,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[schema(max_length = 255)]
    pub target_id: Option<String>,
    pub triggers: Option<Vec<TriggerDoc>>,
    #[schema(minimum = 0)]
    pub min_mrr: Option<f64>,
    #[schema(minimum = 0)]
    pub max_mrr: Option<f64>,
    pub priority: Option<i64>,
    pub active: Option<bool>,
}

/// Only the fields named change; `null` clears an optional one.
#[derive(serde::Serialize, ToSchema)]
pub struct OfferPatch {
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub kind: Option<OfferTypeDoc>,
    #[schema(minimum = 0, required = false)]
    pub value: Option<f64>,
    #[schema(max_length = 255, required = false)]
    pub label: Option<String>,
    #[schema(value_type = Option<Object>, required = false)]
    pub config: Option<Value>,
    #[schema(max_length = 255, required = false)]
    pub target_id: Option<String>,
    #[schema(required = false)]
    pub triggers: Option<Vec<TriggerDoc>>,
    #[schema(minimum = 0, required = false)]
    pub min_mrr: Option<f64>,
    #[schema(minimum = 0, required = false)]
    pub max_mrr: Option<f64>,
    #[schema(required = false)]
    pub priority: Option<i64>,
    #[schema(required = false)]
    pub active: Option<bool>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OfferDeleted {
    pub message: String,
    /// False when the offer has history and was deactivated instead.
    pub deleted: bool,
    #[schema(required = false)]
    pub active: Option<bool>,
}

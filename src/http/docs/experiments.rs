//! Bodies of offer experiments: the experiment and its arms, create, patch and results.

use serde_json::Value;
use utoipa::ToSchema;

use super::cancel_flow::TriggerDoc;

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Draft,
    Running,
    Stopped,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentArm {
    #[schema(max_length = 64)]
    pub name: String,
    /// Relative share of assignments.
    #[schema(required = false)]
    pub weight: Option<i64>,
    #[schema(required = false)]
    pub control: Option<bool>,
    pub offer_ids: Vec<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Experiment {
    pub id: i64,
    pub name: String,
    pub target_id: String,
    pub trigger: Option<TriggerDoc>,
    pub status: String,
    pub arms: Vec<ExperimentArm>,
    pub control_arm: Option<String>,
    pub confidence: f64,
    pub min_sample_size: i64,
    pub promoted_arm: Option<String>,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub stopped_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentList {
    pub data: Vec<Experiment>,
}

/// A new experiment (see the README for the rules on arms).
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentCreate {
    #[schema(max_length = 255)]
    pub name: String,
    #[schema(max_length = 255)]
    pub target_id: String,
    pub trigger: Option<TriggerDoc>,
    pub status: Option<ExperimentStatus>,
    #[schema(minimum = 0.5, maximum = 0.999)]
    pub confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub min_sample_size: Option<i64>,
    pub arms: Vec<ExperimentArm>,
}

/// Merged over the experiment: `status` starts or stops it; `target_id`, `trigger` and
/// `arms` change only while it is a draft.
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentPatch {
    #[schema(max_length = 255, required = false)]
    pub name: Option<String>,
    #[schema(max_length = 255, required = false)]
    pub target_id: Option<String>,
    #[schema(required = false)]
    pub trigger: Option<TriggerDoc>,
    #[schema(required = false)]
    pub status: Option<ExperimentStatus>,
    #[schema(minimum = 0.5, maximum = 0.999, required = false)]
    pub confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000, required = false)]
    pub min_sample_size: Option<i64>,
    #[schema(required = false)]
    pub arms: Option<Vec<ExperimentArm>>,
    /// Stop the experiment and keep only the winning arm's offers.
    #[schema(required = false)]
    pub promote_winner: Option<bool>,
    /// Stop the experiment and keep only this arm's offers.
    #[schema(max_length = 64, required = false)]
    pub promote_arm: Option<String>,
}

/// Per-arm exposures, saves, held saves (saves that lasted `save_validation_days` by Stripe's
/// events), rates with intervals, the comparison with the control arm, and the verdict.
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentResults {
    #[schema(value_type = Object)]
    pub experiment: Value,
    pub confidence: f64,
    pub min_sample_size: i64,
    pub alpha: f64,
    #[schema(value_type = Vec<Object>)]
    pub arms: Vec<Value>,
    pub verdict: String,
    pub winner: Option<String>,
    pub verdict_reason: String,
}

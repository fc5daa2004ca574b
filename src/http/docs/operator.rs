//! Bodies of the operator API: queue figures, dead jobs, organizations and their keys.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

/// Figures of one job kind, or of all of them.
#[derive(serde::Serialize, ToSchema)]
pub struct KindStats {
    /// Due now and not leased.
    pub ready: u64,
    /// Due later.
    pub scheduled: u64,
    /// Leased, lease not expired.
    pub in_flight: u64,
    pub dead: u64,
    /// How long the longest-waiting ready job has been due.
    pub oldest_due_age_seconds: Option<f64>,
    /// Retries scheduled so far.
    pub retries_total: u64,
}

/// The same figures as `saveloops queue stats`.
#[derive(serde::Serialize, ToSchema)]
pub struct QueueStats {
    pub total: KindStats,
    /// Per job kind; kinds with nothing are left out.
    pub kinds: BTreeMap<String, KindStats>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeadJob {
    /// e.g. `apply_offer:7`
    pub id: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub died_at: String,
    /// From the job's ledger (for `apply_offer`, the application's organization).
    pub organization_id: Option<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeadJobPage {
    pub data: Vec<DeadJob>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct JobSettled {
    pub message: String,
    pub id: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: i64,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub stripe_configured: bool,
    pub active_keys: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationPage {
    pub data: Vec<OrganizationSummary>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CreateOrganizationRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

/// The organization and its first key. The key is shown this once.
#[derive(serde::Serialize, ToSchema)]
pub struct CreatedOrganization {
    pub id: i64,
    pub name: String,
    pub api_key: String,
    pub key_prefix: String,
}

/// The key is shown this once.
#[derive(serde::Serialize, ToSchema)]
pub struct CreatedKey {
    pub organization_id: i64,
    pub api_key: String,
    pub key_prefix: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct KeyRevoked {
    pub message: String,
    pub revoked: String,
}

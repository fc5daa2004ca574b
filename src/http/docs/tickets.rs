//! Bodies of the support tickets a furious reason opens: the ticket, its delivery, pages and patch.

use utoipa::ToSchema;

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Pending,
    Solved,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketDelivery {
    /// none, pending, retrying, delivered, failed or dead
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Ticket {
    pub id: i64,
    pub status: TicketStatus,
    /// urgent, high, normal or low
    pub priority: String,
    pub category: String,
    pub sentiment: f64,
    pub reason: String,
    pub user_email: Option<String>,
    pub end_user_id: Option<i64>,
    pub target_id: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub delivery: TicketDelivery,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketPageMeta {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub last_page: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketPage {
    pub data: Vec<Ticket>,
    pub meta: TicketPageMeta,
}

/// Only the fields named change; `null` clears `assignee` or `note`.
#[derive(serde::Serialize, ToSchema)]
pub struct TicketPatch {
    #[schema(required = false)]
    pub status: Option<TicketStatus>,
    #[schema(max_length = 255, required = false)]
    pub assignee: Option<String>,
    #[schema(max_length = 5000, required = false)]
    pub note: Option<String>,
}

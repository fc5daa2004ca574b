//! TicketDesk: support tickets, opened from cancellation reasons and worked by support staff.
use crate::actors::guard;
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use entity::{organization, support_ticket};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{json, Value};

use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::paging::PageRequest;
use crate::domain::ticket::priority;
use crate::store::secrets::SecretBox;
use crate::store::tickets::{ticket_json, TicketCourier};

pub struct TicketDesk {
    db: DatabaseConnection,
    courier: Arc<TicketCourier>,
    /// Seals a new ticket webhook's signing secret.
    secrets: SecretBox,
}

impl TicketDesk {
    pub fn new(db: DatabaseConnection, courier: Arc<TicketCourier>, secrets: SecretBox) -> Self {
        TicketDesk {
            db,
            courier,
            secrets,
        }
    }
}

impl Actor for TicketDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// A support ticket to open, with the cancellation reason that asked for a human.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub organization_id: i64,
    pub end_user_id: Option<i64>,
    pub user_email: Option<String>,
    pub target_id: Option<String>,
    pub reason: String,
    pub category: String,
    pub sentiment: f64,
}

/// A ticket just written.
#[derive(Debug, Clone, Copy)]
pub struct OpenedTicket {
    pub id: i64,
    /// The organization has a ticket webhook: the ticket waits for delivery.
    pub awaits_delivery: bool,
}

/// Opens the tickets in one statement (the OutcomeRecorder's group commit, beside their
/// reasons), answering in the tickets' order. Whether a ticket waits for delivery is read in
/// the insert itself: never a stale answer about the organization's webhook.
///
/// One multi-row insert instead of one each: a batch of sentiment requests with a few
/// tickets made one round trip to the database per ticket, most of a ticket request's cost.
/// Both databases number the rows of one insert in the order of its VALUES
/// (SQLite under its write lock, PostgreSQL by calling the sequence row by row), whatever
/// order RETURNING gives them back in: the ids, sorted, are the tickets' in order.
pub async fn write_tickets(
    conn: &impl ConnectionTrait,
    tickets: Vec<(NewTicket, DateTime<Utc>)>,
) -> Result<Vec<OpenedTicket>, DbErr> {
    use support_ticket::Column as T;
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    let count = tickets.len();
    let mut insert = Query::insert();
    insert
        .into_table(support_ticket::Entity)
        .columns([
            T::OrganizationId,
            T::EndUserId,
            T::UserEmail,
            T::TargetId,
            T::Priority,
            T::Reason,
            T::Category,
            T::Sentiment,
            T::Status,
            T::DeliveryStatus,
            T::DeliveryAttempts,
            T::CreatedAt,
            T::UpdatedAt,
        ])
        .returning(Query::returning().columns([T::Id, T::DeliveryStatus]));
    for (ticket, at) in tickets {
        let has_webhook = Query::select()
            .expr(Expr::val(1))
            .from(organization::Entity)
            .and_where(organization::Column::Id.eq(ticket.organization_id))
            .and_where(organization::Column::TicketWebhookUrl.is_not_null())
            .to_owned();
        insert.values_panic([
            Expr::value(ticket.organization_id),
            Expr::value(ticket.end_user_id),
            Expr::value(ticket.user_email),
            Expr::value(ticket.target_id),
            Expr::value(priority(ticket.sentiment, &ticket.category)),
            Expr::value(ticket.reason),
            Expr::value(ticket.category),
            Expr::value(ticket.sentiment),
            Expr::value("open"),
            Expr::case(Expr::exists(has_webhook), "pending")
                .finally("none")
                .into(),
            Expr::value(0),
            Expr::value(at),
            Expr::value(at),
        ]);
    }
    let mut opened = Vec::with_capacity(count);
    for row in conn.query_all(&insert).await? {
        opened.push(OpenedTicket {
            id: row.try_get("", "id")?,
            awaits_delivery: row.try_get::<String>("", "delivery_status")? == "pending",
        });
    }
    if opened.len() != count {
        return Err(DbErr::RecordNotInserted);
    }
    opened.sort_unstable_by_key(|ticket| ticket.id);
    Ok(opened)
}

/// A committed ticket is counted and, when it awaits delivery, queued for it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TicketOpened(pub OpenedTicket);

impl Handler<TicketOpened> for TicketDesk {
    type Result = ResponseFuture<()>;

    fn handle(
        &mut self,
        TicketOpened(ticket): TicketOpened,
        _: &mut Self::Context,
    ) -> Self::Result {
        crate::metrics::ticket_created();
        let courier = self.courier.clone();
        Box::pin(async move {
            if ticket.awaits_delivery {
                // The ticket row is the ledger: if queueing fails, the reconciler queues it.
                if let Err(e) = courier.schedule(ticket.id).await {
                    tracing::error!(error = %format!("{e:#}"), ticket = ticket.id, "could not queue the ticket delivery");
                }
            }
        })
    }
}

/// Support staff's view and edits.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum WorkTickets {
    List {
        organization_id: i64,
        status: Option<String>,
        /// The dashboard's inbox also filters by priority and assignee (None: any).
        priority: Option<String>,
        assignee: Option<String>,
        paging: PageRequest,
    },
    Get {
        organization_id: i64,
        ticket_id: i64,
    },
    Update {
        organization_id: i64,
        ticket_id: i64,
        status: Option<String>,
        /// Some(None) clears it.
        assignee: Option<Option<String>>,
        note: Option<Option<String>>,
    },
}

fn not_found(ticket_id: i64) -> Failure {
    Failure::NotFound(format!("Ticket {ticket_id} not found."))
}

async fn find(
    db: &DatabaseConnection,
    organization_id: i64,
    ticket_id: i64,
) -> Result<support_ticket::Model, Failure> {
    support_ticket::Entity::find_by_id(ticket_id)
        .filter(support_ticket::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or_else(|| not_found(ticket_id))
}

impl Handler<WorkTickets> for TicketDesk {
    type Result = ResponseFuture<Result<Value, Failure>>;

    fn handle(&mut self, msg: WorkTickets, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            match msg {
                WorkTickets::List {
                    organization_id,
                    status,
                    priority,
                    assignee,
                    paging,
                } => {
                    let PageRequest { page, per_page } = paging;
                    let mut query = support_ticket::Entity::find()
                        .filter(support_ticket::Column::OrganizationId.eq(organization_id));
                    if let Some(status) = &status {
                        query = query.filter(support_ticket::Column::Status.eq(status.clone()));
                    }
                    if let Some(priority) = priority {
                        query = query.filter(support_ticket::Column::Priority.eq(priority));
                    }
                    if let Some(assignee) = assignee {
                        query = query.filter(support_ticket::Column::Assignee.eq(assignee));
                    }
                    let total = query.clone().count(&db).await?;
                    let tickets = query
                        .order_by_desc(support_ticket::Column::Id)
                        .offset(paging.offset())
                        .limit(per_page)
                        .all(&db)
                        .await?;
                    Ok(json!({
                        "data": tickets.iter().map(ticket_json).collect::<Vec<_>>(),
                        "meta": {
                            "page": page,
                            "per_page": per_page,
                            "total": total,
                            "last_page": total.div_ceil(per_page).max(1),
                        }
                    }))
                }
                WorkTickets::Get {
                    organization_id,
                    ticket_id,
                } => Ok(ticket_json(&find(&db, organization_id, ticket_id).await?)),
                WorkTickets::Update {
                    organization_id,
                    ticket_id,
                    status,
                    assignee,
                    note,
                } => {
                    let current = find(&db, organization_id, ticket_id).await?;
                    let mut row: support_ticket::ActiveModel = current.into();
                    if let Some(status) = status {
                        row.status = Set(status);
                    }
                    if let Some(assignee) = assignee {
                        row.assignee = Set(assignee);
                    }
                    if let Some(note) = note {
                        row.note = Set(note);
                    }
                    row.updated_at = Set(Utc::now());
                    Ok(ticket_json(&row.update(&db).await?))
                }
            }
        })
    }
}

/// How many of the organization's latest tickets the settings page counts deliveries of.
pub const RECENT_DELIVERIES: u64 = 100;

/// The organization's ticket webhook: where tickets go (never its secret) and how the
/// deliveries of its latest tickets stand.
#[derive(Debug, Clone)]
pub struct TicketWebhook {
    pub url: Option<String>,
    pub format: Option<String>,
    /// Of the latest [`RECENT_DELIVERIES`] tickets: delivered, failing (retrying, failed or
    /// dead) and pending.
    pub delivered: u64,
    pub failing: u64,
    pub pending: u64,
}

#[derive(Message)]
#[rtype(result = "Result<TicketWebhook, Failure>")]
pub struct TicketWebhookStatus {
    pub organization_id: i64,
}

impl Handler<TicketWebhookStatus> for TicketDesk {
    type Result = ResponseFuture<Result<TicketWebhook, Failure>>;

    fn handle(&mut self, msg: TicketWebhookStatus, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let organization = organization::Entity::find_by_id(msg.organization_id)
                .one(&db)
                .await?
                .ok_or_else(|| {
                    Failure::NotFound(format!("Organization {} not found.", msg.organization_id))
                })?;
            let statuses: Vec<String> = support_ticket::Entity::find()
                .select_only()
                .column(support_ticket::Column::DeliveryStatus)
                .filter(support_ticket::Column::OrganizationId.eq(msg.organization_id))
                .order_by_desc(support_ticket::Column::Id)
                .limit(RECENT_DELIVERIES)
                .into_tuple()
                .all(&db)
                .await?;
            let count = |wanted: &[&str]| {
                statuses
                    .iter()
                    .filter(|s| wanted.contains(&s.as_str()))
                    .count() as u64
            };
            Ok(TicketWebhook {
                url: organization.ticket_webhook_url,
                format: organization.ticket_webhook_format,
                delivered: count(&["delivered"]),
                failing: count(&["retrying", "failed", "dead"]),
                pending: count(&["pending"]),
            })
        })
    }
}

/// Points the organization's ticket delivery at a URL (the dashboard; the CLI's
/// `saveloops org set-ticket-webhook` does the same): answers the new signing secret, which
/// is shown this once.
#[derive(Message)]
#[rtype(result = "Result<String, Failure>")]
pub struct SetTicketWebhook {
    pub organization_id: i64,
    pub url: String,
    pub format: String,
}

impl Handler<SetTicketWebhook> for TicketDesk {
    type Result = ResponseFuture<Result<String, Failure>>;

    fn handle(&mut self, msg: SetTicketWebhook, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let secrets = self.secrets.clone();
        guard(async move {
            let (url, format) = crate::domain::ticket::parse_ticket_webhook(&msg.url, &msg.format)
                .map_err(Failure::Invalid)?;
            let secret = crate::store::tenants::set_ticket_webhook(
                &db,
                &secrets,
                msg.organization_id,
                &url,
                &format,
            )
            .await?;
            Ok(secret)
        })
    }
}

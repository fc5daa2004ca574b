//! Support tickets: how they look to support staff, and their delivery to the
//! organization's webhook (signed, through the durable queue).
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use entity::{organization, support_ticket};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use sha2::Sha256;
use workers::{Job, JobHandler, JobOutcome, Queue};

use crate::jobs::ledger::LedgerJob;

use crate::store::secrets::SecretBox;

/// A ticket delivery: job `deliver_ticket:<ticket id>`.
pub const DELIVER_TICKET: LedgerJob = LedgerJob {
    kind: "deliver_ticket",
    row_field: "ticket_id",
};
/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
pub const SIGNATURE_HEADER: &str = "Saveloops-Signature";

/// The ticket as support staff and webhooks see it.
pub fn ticket_json(ticket: &support_ticket::Model) -> Value {
    json!({
        "id": ticket.id,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "sentiment": ticket.sentiment,
        "reason": ticket.reason,
        "user_email": ticket.user_email,
        "end_user_id": ticket.end_user_id,
        "target_id": ticket.target_id,
        "assignee": ticket.assignee,
        "note": ticket.note,
        "delivery": {
            "status": ticket.delivery_status,
            "attempts": ticket.delivery_attempts,
            "last_error": ticket.delivery_last_error,
            "delivered_at": ticket.delivered_at.map(|t| t.to_rfc3339()),
        },
        "created_at": ticket.created_at.to_rfc3339(),
        "updated_at": ticket.updated_at.to_rfc3339(),
    })
}

/// `t=…,v1=…` over `"{t}.{body}"`, as receivers verify it.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The body sent for a ticket, in the organization's chosen format.
pub fn webhook_body(ticket: &support_ticket::Model, format: &str) -> Value {
    if format == "slack" {
        let who = ticket
            .user_email
            .as_deref()
            .unwrap_or("an anonymous customer");
        json!({
            "text": format!(
                ":rotating_light: Support ticket #{} ({} priority, {}) from {}: \"{}\"",
                ticket.id, ticket.priority, ticket.category, who, ticket.reason
            )
        })
    } else {
        json!({"type": "ticket.created", "ticket": ticket_json(ticket)})
    }
}

/// Delivers tickets to webhooks and keeps the delivery ledger on the ticket row.
pub struct TicketCourier {
    pub db: DatabaseConnection,
    pub secrets: SecretBox,
    pub queue: Arc<dyn Queue>,
    pub http: reqwest::Client,
}

/// What one delivery attempt came to.
enum Delivery {
    Delivered,
    NothingToDeliver,
    Transient(String),
    Permanent(String),
}

impl TicketCourier {
    pub fn new(
        db: DatabaseConnection,
        secrets: SecretBox,
        queue: Arc<dyn Queue>,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Saveloops-Webhooks/1")
            .build()
            .context("building the webhook HTTP client")?;
        Ok(TicketCourier {
            db,
            secrets,
            queue,
            http,
        })
    }

    /// Queues the ticket's delivery now.
    pub async fn schedule(&self, ticket_id: i64) -> anyhow::Result<()> {
        self.queue
            .enqueue(DELIVER_TICKET.job(ticket_id, Utc::now()))
            .await
            .context("queueing the ticket delivery")?;
        Ok(())
    }

    async fn deliver(&self, ticket_id: i64) -> anyhow::Result<Delivery> {
        let Some(ticket) = support_ticket::Entity::find_by_id(ticket_id)
            .one(&self.db)
            .await
            .context("reading the ticket")?
        else {
            return Ok(Delivery::NothingToDeliver);
        };
        if ticket.delivery_status == "delivered" {
            return Ok(Delivery::NothingToDeliver);
        }
        let org = organization::Entity::find_by_id(ticket.organization_id)
            .one(&self.db)
            .await
            .context("reading the organization")?
            .context("the ticket's organization is gone")?;
        let (Some(url), Some(sealed)) = (org.ticket_webhook_url, org.ticket_webhook_secret) else {
            return Ok(Delivery::NothingToDeliver);
        };
        let secret = self
            .secrets
            .open(&sealed)
            .context("opening the webhook secret")?;
        let format = org.ticket_webhook_format.unwrap_or_else(|| "json".into());
        let body = serde_json::to_vec(&webhook_body(&ticket, &format))?;
        let sent = self
            .http
            .post(&url)
            .header("Content-Type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&secret, Utc::now().timestamp(), &body),
            )
            .header("Saveloops-Event", "ticket.created")
            .header("Saveloops-Delivery", DELIVER_TICKET.job_id(ticket.id))
            .body(body)
            .send()
            .await;
        Ok(match sent {
            Err(e) => Delivery::Transient(format!("webhook unreachable: {}", without_url(&e))),
            Ok(response) if response.status().is_success() => Delivery::Delivered,
            Ok(response) => {
                let status = response.status().as_u16();
                // A receiver that is down or overloaded will be back; other 4xx mean the
                // webhook itself is wrong and retrying will not fix it.
                if matches!(status, 408 | 409 | 425 | 429) || status >= 500 {
                    Delivery::Transient(format!("webhook answered HTTP {status}"))
                } else {
                    Delivery::Permanent(format!("webhook answered HTTP {status}"))
                }
            }
        })
    }

    async fn record(
        &self,
        ticket_id: i64,
        status: &str,
        error: Option<String>,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let mut update = support_ticket::Entity::update_many()
            .col_expr(support_ticket::Column::DeliveryStatus, Expr::value(status))
            .col_expr(
                support_ticket::Column::DeliveryAttempts,
                Expr::col(support_ticket::Column::DeliveryAttempts).add(1),
            )
            .col_expr(
                support_ticket::Column::DeliveryLastError,
                Expr::value(error),
            )
            .col_expr(support_ticket::Column::UpdatedAt, Expr::value(now));
        if status == "delivered" {
            update = update.col_expr(support_ticket::Column::DeliveredAt, Expr::value(Some(now)));
        }
        update
            .filter(support_ticket::Column::Id.eq(ticket_id))
            .filter(support_ticket::Column::DeliveryStatus.ne("delivered"))
            .exec(&self.db)
            .await
            .context("recording the delivery attempt")?;
        Ok(())
    }

    /// Marks a delivery dead (retries exhausted) or retrying (revived by an operator).
    pub async fn set_delivery_status(
        &self,
        ticket_id: i64,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        set_delivery_status(&self.db, ticket_id, status, error).await
    }

    /// Re-queues deliveries the queue lost. Returns how many it restored.
    pub async fn reconcile(&self, grace: TimeDelta) -> anyhow::Result<usize> {
        let unfinished = support_ticket::Entity::find()
            .filter(support_ticket::Column::DeliveryStatus.is_in(["pending", "retrying"]))
            .filter(support_ticket::Column::UpdatedAt.lt(Utc::now() - grace))
            .all(&self.db)
            .await
            .context("listing undelivered tickets")?;
        DELIVER_TICKET
            .requeue(self.queue.as_ref(), unfinished.iter().map(|t| t.id))
            .await
            .context("re-queueing ticket deliveries")
    }
}

/// Sets an undelivered ticket's delivery status (dead, retrying, or failed when an operator
/// discards its job), with an optional error. A delivered ticket never changes.
pub async fn set_delivery_status(
    db: &DatabaseConnection,
    ticket_id: i64,
    status: &str,
    error: Option<&str>,
) -> anyhow::Result<()> {
    let mut update = support_ticket::Entity::update_many()
        .col_expr(support_ticket::Column::DeliveryStatus, Expr::value(status))
        .col_expr(support_ticket::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(error) = error {
        update = update.col_expr(
            support_ticket::Column::DeliveryLastError,
            Expr::value(error),
        );
    }
    update
        .filter(support_ticket::Column::Id.eq(ticket_id))
        .filter(support_ticket::Column::DeliveryStatus.ne("delivered"))
        .exec(db)
        .await
        .context("updating the delivery status")?;
    Ok(())
}

/// reqwest's error text names the URL, which may carry a token; keep only the kind.
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

#[async_trait]
impl JobHandler for TicketCourier {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let Some(ticket_id) = DELIVER_TICKET.row_in(job) else {
            return JobOutcome::Fail(format!("job {} has no ticket_id", job.id));
        };
        let delivery = match self.deliver(ticket_id).await {
            Ok(delivery) => delivery,
            Err(e) => return JobOutcome::Retry(format!("{e:#}")),
        };
        let (status, outcome, error) = match delivery {
            Delivery::NothingToDeliver => return JobOutcome::Done,
            Delivery::Delivered => {
                crate::metrics::ticket_delivered();
                ("delivered", JobOutcome::Done, None)
            }
            Delivery::Transient(e) => ("retrying", JobOutcome::Retry(e.clone()), Some(e)),
            Delivery::Permanent(e) => {
                crate::metrics::ticket_failed();
                ("failed", JobOutcome::Fail(e.clone()), Some(e))
            }
        };
        if let Err(e) = self.record(ticket_id, status, error).await {
            tracing::error!(error = %format!("{e:#}"), ticket_id, "could not record a delivery");
        }
        outcome
    }

    async fn on_dead(&self, job: &Job, error: &str) {
        crate::metrics::ticket_failed();
        if let Some(ticket_id) = DELIVER_TICKET.row_in(job) {
            if let Err(e) = self
                .set_delivery_status(ticket_id, "dead", Some(error))
                .await
            {
                tracing::error!(error = %format!("{e:#}"), ticket_id, "could not mark the delivery dead");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_and_body() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}

//! AdminDesk: what operators do over HTTP (queue figures, dead jobs, organizations and
//! keys), and the queue reading behind `/metrics`.
use crate::actors::{guard, guard_act};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use entity::{api_key, organization};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use workers::{Queue, QueueStats};

use super::key_verifier::{ForgetKey, KeyVerifier};
use super::Failure;
use crate::jobs::{self, OwnedDeadJob};
use crate::store::tenants::{self, CreatedKey, CreatedOrganization};

pub struct AdminDesk {
    db: DatabaseConnection,
    queue: Arc<dyn Queue>,
    keys: Addr<KeyVerifier>,
    /// The last queue reading and when it was taken.
    last_reading: Option<(Instant, QueueStats)>,
}

impl AdminDesk {
    pub fn new(db: DatabaseConnection, queue: Arc<dyn Queue>, keys: Addr<KeyVerifier>) -> Self {
        AdminDesk {
            db,
            queue,
            keys,
            last_reading: None,
        }
    }
}

impl Actor for AdminDesk {
    type Context = Context<Self>;
}

/// A page of results, as every operator listing answers.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

pub use crate::domain::paging::PageRequest;

/// The queue's figures, per kind and in total; a reading younger than `max_age` is reused.
#[derive(Message)]
#[rtype(result = "Result<QueueStats, Failure>")]
pub struct QueueFigures {
    pub max_age: Duration,
}

impl Handler<QueueFigures> for AdminDesk {
    type Result = ResponseActFuture<Self, Result<QueueStats, Failure>>;

    fn handle(&mut self, msg: QueueFigures, _: &mut Self::Context) -> Self::Result {
        if let Some((at, stats)) = &self.last_reading {
            if at.elapsed() < msg.max_age {
                return guard_act(fut::ready(Ok(stats.clone())));
            }
        }
        let queue = self.queue.clone();
        let read = async move { queue.stats().await };
        guard_act(fut::wrap_future(read).map(|result, act: &mut Self, _| {
            let stats = result.map_err(|e| anyhow::Error::new(e).context("reading the queue"))?;
            act.last_reading = Some((Instant::now(), stats.clone()));
            Ok(stats)
        }))
    }
}

/// Dead jobs, most recently died first, each with its organization.
#[derive(Message)]
#[rtype(result = "Result<Page<OwnedDeadJob>, Failure>")]
pub struct DeadJobs(pub PageRequest);

impl Handler<DeadJobs> for AdminDesk {
    type Result = ResponseFuture<Result<Page<OwnedDeadJob>, Failure>>;

    fn handle(&mut self, DeadJobs(page): DeadJobs, _: &mut Self::Context) -> Self::Result {
        let queue = self.queue.clone();
        let db = self.db.clone();
        guard(async move {
            let total = queue
                .stats()
                .await
                .map_err(|e| anyhow::Error::new(e).context("reading the queue"))?
                .total
                .dead;
            let data = jobs::dead_jobs_with_owners(
                &*queue,
                &db,
                usize::try_from(page.offset()).unwrap_or(usize::MAX),
                usize::try_from(page.per_page).unwrap_or(usize::MAX),
            )
            .await?;
            Ok(Page {
                data,
                page: page.page,
                per_page: page.per_page,
                total,
            })
        })
    }
}

/// What an operator can do with a dead job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadJobAction {
    /// Due again now, attempts reset; its application goes back to "retrying".
    Retry,
    /// Gone for good; its application is marked failed.
    Discard,
}

#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct SettleDeadJob {
    pub id: String,
    pub action: DeadJobAction,
}

impl Handler<SettleDeadJob> for AdminDesk {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: SettleDeadJob, _: &mut Self::Context) -> Self::Result {
        let queue = self.queue.clone();
        let db = self.db.clone();
        // The figures changed: the next reading must not reuse the old one.
        self.last_reading = None;
        guard(async move {
            let done = match msg.action {
                DeadJobAction::Retry => jobs::retry_dead_job(&*queue, &db, &msg.id).await?,
                DeadJobAction::Discard => {
                    let note = "Discarded by an operator (DELETE /api/v1/admin/queue/dead/{id}).";
                    jobs::discard_dead_job(&*queue, &db, &msg.id, note).await?
                }
            };
            if done {
                tracing::info!(job = %msg.id, action = ?msg.action, "operator settled a dead job");
                Ok(())
            } else {
                Err(Failure::NotFound(format!(
                    "No dead job has the id {}.",
                    msg.id
                )))
            }
        })
    }
}

/// An organization as operators see it (never its keys or its Stripe key).
#[derive(Debug, Clone, Serialize)]
pub struct OrganizationSummary {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub stripe_configured: bool,
    pub active_keys: u64,
}

#[derive(Message)]
#[rtype(result = "Result<Page<OrganizationSummary>, Failure>")]
pub struct ListOrganizations(pub PageRequest);

impl Handler<ListOrganizations> for AdminDesk {
    type Result = ResponseFuture<Result<Page<OrganizationSummary>, Failure>>;

    fn handle(
        &mut self,
        ListOrganizations(page): ListOrganizations,
        _: &mut Self::Context,
    ) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let total = organization::Entity::find().count(&db).await?;
            let orgs = organization::Entity::find()
                .order_by_asc(organization::Column::Id)
                .offset(page.offset())
                .limit(page.per_page)
                .all(&db)
                .await?;
            let ids: Vec<i64> = orgs.iter().map(|o| o.id).collect();
            let counts: Vec<(i64, i64)> = api_key::Entity::find()
                .select_only()
                .column(api_key::Column::OrganizationId)
                .column_as(api_key::Column::Id.count(), "keys")
                .filter(api_key::Column::OrganizationId.is_in(ids))
                .filter(api_key::Column::RevokedAt.is_null())
                .group_by(api_key::Column::OrganizationId)
                .into_tuple()
                .all(&db)
                .await?;
            let data = orgs
                .into_iter()
                .map(|o| OrganizationSummary {
                    active_keys: counts
                        .iter()
                        .find(|(id, _)| *id == o.id)
                        .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0)),
                    id: o.id,
                    name: o.name,
                    created_at: o.created_at,
                    stripe_configured: o.stripe_key_ciphertext.is_some(),
                })
                .collect();
            Ok(Page {
                data,
                page: page.page,
                per_page: page.per_page,
                total,
            })
        })
    }
}

/// Creates an organization and its first key (shown this once).
#[derive(Message)]
#[rtype(result = "Result<CreatedOrganization, Failure>")]
pub struct CreateOrganization {
    pub name: String,
}

impl Handler<CreateOrganization> for AdminDesk {
    type Result = ResponseFuture<Result<CreatedOrganization, Failure>>;

    fn handle(&mut self, msg: CreateOrganization, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let created = tenants::create_organization(&db, &msg.name).await?;
            tracing::info!(
                organization = created.id,
                "operator created an organization"
            );
            Ok(created)
        })
    }
}

/// Another key for an organization (shown this once).
#[derive(Message)]
#[rtype(result = "Result<CreatedKey, Failure>")]
pub struct CreateKey {
    pub organization_id: i64,
}

impl Handler<CreateKey> for AdminDesk {
    type Result = ResponseFuture<Result<CreatedKey, Failure>>;

    fn handle(&mut self, msg: CreateKey, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let exists = organization::Entity::find_by_id(msg.organization_id)
                .one(&db)
                .await?
                .is_some();
            if !exists {
                return Err(Failure::NotFound(format!(
                    "Organization {} not found.",
                    msg.organization_id
                )));
            }
            let created = tenants::create_key(&db, msg.organization_id).await?;
            tracing::info!(organization = msg.organization_id, prefix = %created.key_prefix, "operator created a key");
            Ok(created)
        })
    }
}

/// Revokes the active key with this prefix; this process stops accepting it at once.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct RevokeKey {
    pub prefix: String,
}

impl Handler<RevokeKey> for AdminDesk {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: RevokeKey, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let keys = self.keys.clone();
        guard(async move {
            if !tenants::revoke_key(&db, &msg.prefix).await? {
                return Err(Failure::NotFound(format!(
                    "No active key has the prefix {}.",
                    msg.prefix
                )));
            }
            keys.send(ForgetKey(msg.prefix.clone()))
                .await
                .map_err(|e| anyhow::anyhow!("key verifier unavailable: {e}"))?;
            tracing::info!(prefix = %msg.prefix, "operator revoked a key");
            Ok(())
        })
    }
}

/// An API key as operators see it: never its secret or its hash.
#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An organization with its keys, newest first.
#[derive(Message)]
#[rtype(result = "Result<(OrganizationSummary, Vec<KeySummary>), Failure>")]
pub struct OrganizationKeys {
    pub organization_id: i64,
}

impl Handler<OrganizationKeys> for AdminDesk {
    type Result = ResponseFuture<Result<(OrganizationSummary, Vec<KeySummary>), Failure>>;

    fn handle(&mut self, msg: OrganizationKeys, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let organization = organization::Entity::find_by_id(msg.organization_id)
                .one(&db)
                .await?
                .ok_or_else(|| {
                    Failure::NotFound(format!("Organization {} not found.", msg.organization_id))
                })?;
            let keys: Vec<KeySummary> = api_key::Entity::find()
                .filter(api_key::Column::OrganizationId.eq(msg.organization_id))
                .order_by_desc(api_key::Column::Id)
                .all(&db)
                .await?
                .into_iter()
                .map(|k| KeySummary {
                    prefix: k.prefix,
                    created_at: k.created_at,
                    revoked_at: k.revoked_at,
                })
                .collect();
            let summary = OrganizationSummary {
                id: organization.id,
                name: organization.name,
                created_at: organization.created_at,
                stripe_configured: organization.stripe_key_ciphertext.is_some(),
                active_keys: keys.iter().filter(|k| k.revoked_at.is_none()).count() as u64,
            };
            Ok((summary, keys))
        })
    }
}

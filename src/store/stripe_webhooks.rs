//! The database side of Stripe's webhooks: each organization's endpoint id, its signing
//! secrets (sealed like the Stripe key), and the events received (unique per organization and
//! event id, claimed before they are applied so that two deliveries never both apply one).
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::{json, Value};

use crate::domain::stripe_event::{Effect, StripeEvent, CANCELLING_EFFECTS};
use crate::store::database::stored_time;
use crate::store::secrets::SecretBox;

/// Active signing secrets an organization may hold at once: Stripe's and the one rolled in.
pub const MAX_ACTIVE_SECRETS: usize = 2;

/// A claim on an event older than this is taken to be a crashed delivery's: another delivery
/// may apply the event.
const CLAIM_SECONDS: i64 = 60;

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

/// The organization's endpoint id, created on first request (`we_` and 128 random bits).
#[tracing::instrument(skip(db))]
pub async fn endpoint_id(db: &DatabaseConnection, organization_id: i64) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let insert = Query::insert()
        .into_table(Endpoints::Table)
        .columns([
            Endpoints::OrganizationId,
            Endpoints::EndpointId,
            Endpoints::CreatedAt,
        ])
        .values_panic([
            organization_id.into(),
            format!("we_{}", random_hex::<16>()).into(),
            stored_time(backend, Utc::now()).into(),
        ])
        .on_conflict(
            OnConflict::column(Endpoints::OrganizationId)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    let query = Query::select()
        .column(Endpoints::EndpointId)
        .from(Endpoints::Table)
        .and_where(Expr::col(Endpoints::OrganizationId).eq(organization_id))
        .to_owned();
    let row = db
        .query_one(&query)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the webhook endpoint".into()))?;
    row.try_get_by_index(0)
}

/// The organization an endpoint id belongs to, and its active secrets, opened.
#[tracing::instrument(skip(db, secrets))]
pub async fn endpoint_secrets(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    endpoint_id: &str,
) -> anyhow::Result<Option<(i64, Vec<String>)>> {
    let query = Query::select()
        .column(Endpoints::OrganizationId)
        .from(Endpoints::Table)
        .and_where(Expr::col(Endpoints::EndpointId).eq(endpoint_id))
        .to_owned();
    let Some(row) = db.query_one(&query).await? else {
        return Ok(None);
    };
    let organization_id: i64 = row.try_get_by_index(0)?;
    let query = Query::select()
        .column(Secrets::SecretCiphertext)
        .from(Secrets::Table)
        .and_where(Expr::col(Secrets::OrganizationId).eq(organization_id))
        .and_where(Expr::col(Secrets::RevokedAt).is_null())
        .order_by(Secrets::Id, Order::Desc)
        .to_owned();
    let mut opened = Vec::new();
    for row in db.query_all(&query).await? {
        let sealed: String = row.try_get_by_index(0)?;
        opened.push(secrets.open(&sealed).context("a webhook signing secret")?);
    }
    Ok(Some((organization_id, opened)))
}

#[derive(Debug, thiserror::Error)]
pub enum SecretRefused {
    #[error("An organization may have at most {MAX_ACTIVE_SECRETS} active webhook signing secrets; revoke one first.")]
    TooMany,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Stores a signing secret Stripe's dashboard showed (sealed; never shown again).
#[tracing::instrument(skip(db, secrets, secret))]
pub async fn add_secret(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    organization_id: i64,
    secret: &str,
) -> Result<Value, SecretRefused> {
    let backend = db.get_database_backend();
    let active = Query::select()
        .expr(Expr::col(Secrets::Id).count())
        .from(Secrets::Table)
        .and_where(Expr::col(Secrets::OrganizationId).eq(organization_id))
        .and_where(Expr::col(Secrets::RevokedAt).is_null())
        .to_owned();
    let row = db.query_one(&active).await.context("reading the secrets")?;
    let active: i64 = match row {
        Some(row) => row.try_get_by_index(0).context("reading the secrets")?,
        None => 0,
    };
    if active >= MAX_ACTIVE_SECRETS as i64 {
        return Err(SecretRefused::TooMany);
    }
    let id = format!("whk_{}", random_hex::<8>());
    let created_at = Utc::now();
    let insert = Query::insert()
        .into_table(Secrets::Table)
        .columns([
            Secrets::OrganizationId,
            Secrets::SecretId,
            Secrets::SecretCiphertext,
            Secrets::CreatedAt,
        ])
        .values_panic([
            organization_id.into(),
            id.clone().into(),
            secrets.seal(secret)?.into(),
            stored_time(backend, created_at).into(),
        ])
        .to_owned();
    db.execute(&insert).await.context("storing the secret")?;
    Ok(json!({"id": id, "created_at": created_at, "revoked_at": null, "active": true}))
}

/// The organization's signing secrets, newest first, without the secrets.
#[tracing::instrument(skip(db))]
pub async fn list_secrets(db: &DatabaseConnection, organization_id: i64) -> Result<Value, DbErr> {
    let query = Query::select()
        .columns([Secrets::SecretId, Secrets::CreatedAt, Secrets::RevokedAt])
        .from(Secrets::Table)
        .and_where(Expr::col(Secrets::OrganizationId).eq(organization_id))
        .order_by(Secrets::Id, Order::Desc)
        .to_owned();
    let mut data = Vec::new();
    for row in db.query_all(&query).await? {
        let revoked_at: Option<DateTime<Utc>> = row.try_get_by_index(2)?;
        data.push(json!({
            "id": row.try_get_by_index::<String>(0)?,
            "created_at": row.try_get_by_index::<DateTime<Utc>>(1)?,
            "revoked_at": revoked_at,
            "active": revoked_at.is_none(),
        }));
    }
    Ok(json!({ "data": data }))
}

/// Revokes one of the organization's secrets; false when it has no such active secret.
#[tracing::instrument(skip(db))]
pub async fn revoke_secret(
    db: &DatabaseConnection,
    organization_id: i64,
    secret_id: &str,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let update = Query::update()
        .table(Secrets::Table)
        .value(Secrets::RevokedAt, stored_time(backend, Utc::now()))
        .and_where(Expr::col(Secrets::OrganizationId).eq(organization_id))
        .and_where(Expr::col(Secrets::SecretId).eq(secret_id))
        .and_where(Expr::col(Secrets::RevokedAt).is_null())
        .to_owned();
    Ok(db.execute(&update).await?.rows_affected() > 0)
}

/// What storing an event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// This delivery holds the claim: apply the event, then `mark_applied` (or `release`).
    Claimed(i64),
    /// Stored already, and applied or being applied by another delivery.
    Duplicate,
}

/// Stores the event (once per organization and event id) and claims it for applying.
#[tracing::instrument(skip(db, event), fields(event = %event.id))]
pub async fn store_event(
    db: &DatabaseConnection,
    organization_id: i64,
    event: &StripeEvent,
    now: DateTime<Utc>,
) -> Result<Stored, DbErr> {
    let backend = db.get_database_backend();
    let details = &event.cancellation;
    let insert = Query::insert()
        .into_table(Events::Table)
        .columns([
            Events::OrganizationId,
            Events::EventId,
            Events::EventType,
            Events::EventCreated,
            Events::StripeCustomerId,
            Events::StripeSubscriptionId,
            Events::Effect,
            Events::CancellationReason,
            Events::CancellationFeedback,
            Events::CancellationComment,
            Events::ReceivedAt,
            Events::ClaimedAt,
        ])
        .values_panic([
            organization_id.into(),
            event.id.clone().into(),
            event.kind.clone().into(),
            stored_time(backend, event.created).into(),
            event.customer.clone().into(),
            event.subscription.clone().into(),
            event.effect.as_str().into(),
            details.reason.clone().into(),
            details.feedback.clone().into(),
            details.comment.clone().into(),
            stored_time(backend, now).into(),
            stored_time(backend, now).into(),
        ])
        .on_conflict(
            OnConflict::columns([Events::OrganizationId, Events::EventId])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    // A new event is claimed by the delivery that stored it (one write, not two).
    let inserted = db.execute(&insert).await?.rows_affected() == 1;
    let query = Query::select()
        .column(Events::Id)
        .from(Events::Table)
        .and_where(Expr::col(Events::OrganizationId).eq(organization_id))
        .and_where(Expr::col(Events::EventId).eq(event.id.as_str()))
        .to_owned();
    let row = db
        .query_one(&query)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the stored event".into()))?;
    let id: i64 = row.try_get_by_index(0)?;
    if inserted {
        return Ok(Stored::Claimed(id));
    }
    // Unapplied, and unclaimed or claimed by a delivery that died: this one applies it.
    let stale = stored_time(backend, now - Duration::seconds(CLAIM_SECONDS));
    let claim = Query::update()
        .table(Events::Table)
        .value(Events::ClaimedAt, stored_time(backend, now))
        .and_where(Expr::col(Events::Id).eq(id))
        .and_where(Expr::col(Events::AppliedAt).is_null())
        .and_where(
            Expr::col(Events::ClaimedAt)
                .is_null()
                .or(Expr::col(Events::ClaimedAt).lt(stale)),
        )
        .to_owned();
    Ok(if db.execute(&claim).await?.rows_affected() == 1 {
        Stored::Claimed(id)
    } else {
        Stored::Duplicate
    })
}

/// The event is applied: later deliveries change nothing.
pub async fn mark_applied(
    db: &DatabaseConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let update = Query::update()
        .table(Events::Table)
        .value(Events::AppliedAt, stored_time(backend, now))
        .and_where(Expr::col(Events::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Applying failed: the next delivery (Stripe retries) may claim the event again.
pub async fn release(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
    let update = Query::update()
        .table(Events::Table)
        // An untyped NULL: a NULL bound as text would not go into PostgreSQL's timestamptz.
        .value(Events::ClaimedAt, Expr::cust("NULL"))
        .and_where(Expr::col(Events::Id).eq(id))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Whether the customer has a stored event with `effect` created after `since` (or at it,
/// with `inclusive`): a newer fact that an older event must not undo.
#[tracing::instrument(skip(db))]
pub async fn newer_event(
    db: &DatabaseConnection,
    organization_id: i64,
    customer: &str,
    effect: Effect,
    since: DateTime<Utc>,
    inclusive: bool,
) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let since = stored_time(backend, since);
    let created = Expr::col(Events::EventCreated);
    let query = Query::select()
        .expr(Expr::val(1))
        .from(Events::Table)
        .and_where(Expr::col(Events::OrganizationId).eq(organization_id))
        .and_where(Expr::col(Events::StripeCustomerId).eq(customer))
        .and_where(Expr::col(Events::Effect).eq(effect.as_str()))
        .and_where(if inclusive {
            created.gte(since)
        } else {
            created.gt(since)
        })
        .limit(1)
        .to_owned();
    Ok(db.query_one(&query).await?.is_some())
}

/// When each of the organization's end users' subscriptions was deleted or set to cancel
/// (Stripe's times), for save validation: (end user id, time).
#[tracing::instrument(skip(db))]
pub async fn cancellations(
    db: &DatabaseConnection,
    organization_id: i64,
) -> Result<Vec<(i64, DateTime<Utc>)>, DbErr> {
    let query = Query::select()
        .expr(Expr::col((EndUsers::Table, EndUsers::Id)))
        .expr(Expr::col((Events::Table, Events::EventCreated)))
        .from(Events::Table)
        .inner_join(
            EndUsers::Table,
            Expr::col((EndUsers::Table, EndUsers::OrganizationId))
                .equals((Events::Table, Events::OrganizationId))
                .and(
                    Expr::col((EndUsers::Table, EndUsers::StripeCustomerId))
                        .equals((Events::Table, Events::StripeCustomerId)),
                ),
        )
        .and_where(Expr::col((Events::Table, Events::OrganizationId)).eq(organization_id))
        .and_where(
            Expr::col((Events::Table, Events::Effect))
                .is_in(CANCELLING_EFFECTS.map(Effect::as_str)),
        )
        .to_owned();
    db.query_all(&query)
        .await?
        .iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

#[derive(sea_orm::DeriveIden)]
enum Endpoints {
    #[sea_orm(iden = "stripe_webhook_endpoints")]
    Table,
    OrganizationId,
    EndpointId,
    CreatedAt,
}

#[derive(sea_orm::DeriveIden)]
enum Secrets {
    #[sea_orm(iden = "stripe_webhook_secrets")]
    Table,
    Id,
    OrganizationId,
    SecretId,
    SecretCiphertext,
    CreatedAt,
    RevokedAt,
}

#[derive(sea_orm::DeriveIden)]
enum Events {
    #[sea_orm(iden = "stripe_events")]
    Table,
    Id,
    OrganizationId,
    EventId,
    EventType,
    EventCreated,
    StripeCustomerId,
    StripeSubscriptionId,
    Effect,
    CancellationReason,
    CancellationFeedback,
    CancellationComment,
    ReceivedAt,
    ClaimedAt,
    AppliedAt,
}

#[derive(sea_orm::DeriveIden)]
enum EndUsers {
    Table,
    Id,
    OrganizationId,
    StripeCustomerId,
}

//! The database side of Stripe's webhooks: each organization's endpoint id, its signing
//! secrets (sealed like the Stripe key), and the cancellations among the events received (the
//! events themselves are stored by `stripe_events`).
use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::{json, Value};

use crate::domain::stripe_event::{Effect, CANCELLING_EFFECTS};
use crate::store::database::stored_time;
use crate::store::secrets::SecretBox;

/// Active signing secrets an organization may hold at once: Stripe's and the one rolled in.
pub const MAX_ACTIVE_SECRETS: usize = 2;

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
    OrganizationId,
    EventCreated,
    StripeCustomerId,
    Effect,
}

#[derive(sea_orm::DeriveIden)]
enum EndUsers {
    Table,
    Id,
    OrganizationId,
    StripeCustomerId,
}

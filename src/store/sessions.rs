//! The database side of end-user sessions: organizations' signing secrets (sealed at rest),
//! the offers each session was shown, and the one offer each session may apply.
use anyhow::Context;
use chrono::{DateTime, Utc};
use entity::signing_secret;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::{json, Value};

use crate::domain::session::KID_PREFIX;
use crate::store::coalescer::Coalescer;
use crate::store::database::{sqlite_time, sqlite_transaction, sqlx_failure, WriteTurns};
use crate::store::secrets::SecretBox;
use sea_orm::sqlx;

/// Active secrets an organization may hold at once: one in use and one being rotated in.
pub const MAX_ACTIVE_SECRETS: usize = 2;

/// A signing secret as its owner sees it once, at creation.
#[derive(Debug, Clone)]
pub struct CreatedSecret {
    pub kid: String,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// A secret ready to check signatures with.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub organization_id: i64,
    pub kid: String,
    pub secret: String,
    pub revoked: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretRefused {
    #[error("An organization may have at most {MAX_ACTIVE_SECRETS} active signing secrets; revoke one first.")]
    TooMany,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Creates a signing secret for the organization (shown this once; stored sealed).
#[tracing::instrument(skip(db, secrets))]
pub async fn create_secret(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    organization_id: i64,
) -> Result<CreatedSecret, SecretRefused> {
    let active = signing_secret::Entity::find()
        .filter(signing_secret::Column::OrganizationId.eq(organization_id))
        .filter(signing_secret::Column::RevokedAt.is_null())
        .all(db)
        .await
        .context("could not read the signing secrets")?;
    if active.len() >= MAX_ACTIVE_SECRETS {
        return Err(SecretRefused::TooMany);
    }
    let kid = format!("{KID_PREFIX}{}", hex::encode(random_bytes::<8>()));
    let secret = format!("ssec_{}", hex::encode(random_bytes::<32>()));
    let created_at = Utc::now();
    signing_secret::ActiveModel {
        organization_id: Set(organization_id),
        kid: Set(kid.clone()),
        secret_ciphertext: Set(secrets.seal(&secret)?),
        created_at: Set(created_at),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .context("could not store the signing secret")?;
    Ok(CreatedSecret {
        kid,
        secret,
        created_at,
    })
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes
}

/// The organization's signing secrets, newest first, without the secrets.
#[tracing::instrument(skip(db))]
pub async fn list_secrets(db: &DatabaseConnection, organization_id: i64) -> Result<Value, DbErr> {
    let rows = signing_secret::Entity::find()
        .filter(signing_secret::Column::OrganizationId.eq(organization_id))
        .order_by_desc(signing_secret::Column::Id)
        .all(db)
        .await?;
    let data: Vec<Value> = rows.iter().map(secret_json).collect();
    Ok(json!({ "data": data }))
}

pub fn secret_json(row: &signing_secret::Model) -> Value {
    json!({
        "kid": row.kid,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "active": row.revoked_at.is_none(),
    })
}

/// Revokes one of the organization's secrets; false when it has no such active secret.
#[tracing::instrument(skip(db))]
pub async fn revoke_secret(
    db: &DatabaseConnection,
    organization_id: i64,
    kid: &str,
) -> Result<bool, DbErr> {
    let result = signing_secret::Entity::update_many()
        .col_expr(signing_secret::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(signing_secret::Column::OrganizationId.eq(organization_id))
        .filter(signing_secret::Column::Kid.eq(kid))
        .filter(signing_secret::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The secret a token's `kid` names, opened; None when there is no such secret.
#[tracing::instrument(skip(db, secrets))]
pub async fn find_key(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    kid: &str,
) -> anyhow::Result<Option<SigningKey>> {
    let row = signing_secret::Entity::find()
        .filter(signing_secret::Column::Kid.eq(kid))
        .one(db)
        .await
        .context("could not read the signing secret")?;
    row.map(|row| opened(secrets, row)).transpose()
}

fn opened(secrets: &SecretBox, row: signing_secret::Model) -> anyhow::Result<SigningKey> {
    Ok(SigningKey {
        organization_id: row.organization_id,
        secret: secrets.open(&row.secret_ciphertext)?,
        revoked: row.revoked_at.is_some(),
        kid: row.kid,
    })
}

/// The organization's newest active secret (what `POST /sessions` signs with).
#[tracing::instrument(skip(db, secrets))]
pub async fn newest_key(
    db: &DatabaseConnection,
    secrets: &SecretBox,
    organization_id: i64,
) -> anyhow::Result<Option<SigningKey>> {
    let row = signing_secret::Entity::find()
        .filter(signing_secret::Column::OrganizationId.eq(organization_id))
        .filter(signing_secret::Column::RevokedAt.is_null())
        .order_by_desc(signing_secret::Column::Id)
        .one(db)
        .await
        .context("could not read the signing secrets")?;
    row.map(|row| opened(secrets, row)).transpose()
}

/// Offers shown to one session, to remember.
#[derive(Debug, Clone)]
pub struct Shown {
    pub organization_id: i64,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    pub offer_ids: Vec<i64>,
}

/// Calls waiting together in one batch, at most.
const SHOWN_BATCH: usize = 256;

/// The offers sessions were shown, written in batches: what intercepts and reasons show
/// while a write is in flight goes into the next one, so that many requests cost one
/// statement. Written like the impressions they go with: on SQLite in the writers' turn (a
/// statement of its own outside the turns would wait for SQLite's lock), on PostgreSQL on the
/// impressions' pool, which does not wait for the WAL flush unless impressions are durable.
pub struct ShownOffers {
    batches: Coalescer<Shown, Result<(), String>>,
}

impl ShownOffers {
    /// Starts the batcher on the current runtime.
    pub fn start(db: DatabaseConnection, turns: WriteTurns) -> Self {
        ShownOffers {
            batches: Coalescer::start("shown offers", SHOWN_BATCH, 1, move |batch: Vec<Shown>| {
                let (db, turns) = (db.clone(), turns.clone());
                async move {
                    let written = remember_shown(&db, &turns, &batch)
                        .await
                        .map_err(|e| format!("{e:#}"));
                    vec![written; batch.len()]
                }
            }),
        }
    }

    /// Notes what a session was shown; answers once it is stored.
    pub async fn remember(&self, shown: Shown) -> anyhow::Result<()> {
        if shown.offer_ids.is_empty() {
            return Ok(());
        }
        self.batches
            .call(shown)
            .await?
            .map_err(anyhow::Error::msg)
            .context("remembering the offers a session was shown")
    }
}

/// Notes the offers sessions were shown (idempotent), in one statement of fixed text.
#[tracing::instrument(skip_all, fields(sessions = batch.len()))]
async fn remember_shown(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    batch: &[Shown],
) -> Result<(), DbErr> {
    let rows = batch
        .iter()
        .flat_map(|shown| shown.offer_ids.iter().map(move |id| (shown, *id)));
    if let Some(pool) = turns.impression_pool() {
        let (mut sessions, mut offers, mut organizations, mut expiries) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (shown, offer_id) in rows {
            sessions.push(shown.session_id.clone());
            offers.push(offer_id);
            organizations.push(shown.organization_id);
            expiries.push(shown.expires_at);
        }
        sqlx::query(
            "INSERT INTO session_offers (session_id, offer_id, organization_id, expires_at) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[]) \
             ON CONFLICT (session_id, offer_id) DO NOTHING",
        )
        .bind(sessions)
        .bind(offers)
        .bind(organizations)
        .bind(expiries)
        .execute(pool)
        .await
        .map_err(sqlx_failure)?;
        return Ok(());
    }
    let rows: Vec<Value> = rows
        .map(|(shown, offer_id)| {
            json!([
                shown.session_id,
                offer_id,
                shown.organization_id,
                sqlite_time(shown.expires_at)
            ])
        })
        .collect();
    let statement = sqlx::query(
        "INSERT INTO session_offers (session_id, offer_id, organization_id, expires_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1) WHERE true \
         ON CONFLICT (session_id, offer_id) DO NOTHING",
    )
    .bind(Value::Array(rows).to_string());
    sqlite_transaction(db, turns, statement).await
}

/// Whether the session was shown this offer.
#[tracing::instrument(skip(db))]
pub async fn was_shown(
    db: &DatabaseConnection,
    session_id: &str,
    offer_id: i64,
) -> Result<bool, DbErr> {
    let query = Query::select()
        .expr(Expr::val(1))
        .from(SessionOffers::Table)
        .and_where(Expr::col(SessionOffers::SessionId).eq(session_id))
        .and_where(Expr::col(SessionOffers::OfferId).eq(offer_id))
        .to_owned();
    Ok(db.query_one(&query).await?.is_some())
}

/// Claims the session's one application for this offer: true when the session has applied
/// nothing yet or this same offer (a retry), false when it applied another.
#[tracing::instrument(skip(db))]
pub async fn claim_application(
    db: &DatabaseConnection,
    organization_id: i64,
    session_id: &str,
    offer_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let insert = Query::insert()
        .into_table(SessionApplications::Table)
        .columns([
            SessionApplications::SessionId,
            SessionApplications::OrganizationId,
            SessionApplications::OfferId,
            SessionApplications::ExpiresAt,
        ])
        .values_panic([
            session_id.into(),
            organization_id.into(),
            offer_id.into(),
            expires_at.into(),
        ])
        .on_conflict(
            OnConflict::column(SessionApplications::SessionId)
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&insert).await?;
    let query = Query::select()
        .column(SessionApplications::OfferId)
        .from(SessionApplications::Table)
        .and_where(Expr::col(SessionApplications::SessionId).eq(session_id))
        .to_owned();
    let claimed: Option<i64> = match db.query_one(&query).await? {
        Some(row) => Some(row.try_get_by_index(0)?),
        None => None,
    };
    Ok(claimed == Some(offer_id))
}

/// Gives the claim back when Stripe refused the change for good: the session may try
/// another offer.
#[tracing::instrument(skip(db))]
pub async fn release_application(
    db: &DatabaseConnection,
    session_id: &str,
    offer_id: i64,
) -> Result<(), DbErr> {
    let delete = Query::delete()
        .from_table(SessionApplications::Table)
        .and_where(Expr::col(SessionApplications::SessionId).eq(session_id))
        .and_where(Expr::col(SessionApplications::OfferId).eq(offer_id))
        .to_owned();
    db.execute(&delete).await?;
    Ok(())
}

/// Read with SeaQuery; written by the hand-made statements of `remember_shown`.
#[derive(sea_orm::DeriveIden)]
enum SessionOffers {
    Table,
    SessionId,
    OfferId,
}

#[derive(sea_orm::DeriveIden)]
enum SessionApplications {
    Table,
    SessionId,
    OrganizationId,
    OfferId,
    ExpiresAt,
}

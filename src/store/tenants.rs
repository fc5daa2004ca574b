//! Organizations and their API keys (used by the CLI; later by the operator API).
use anyhow::Context;
use chrono::Utc;
use entity::{api_key, organization};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use serde::Serialize;

use crate::domain::ApiKey;

#[derive(Debug, Serialize)]
pub struct CreatedOrganization {
    pub id: i64,
    pub name: String,
    /// Shown this once; only its hash is stored.
    pub api_key: String,
    pub key_prefix: String,
}

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub organization_id: i64,
    pub api_key: String,
    pub key_prefix: String,
}

#[tracing::instrument(skip(db))]
pub async fn create_organization(
    db: &DatabaseConnection,
    name: &str,
) -> anyhow::Result<CreatedOrganization> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 255,
        "the organization name must be 1 to 255 characters"
    );
    let org = organization::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .context("could not create the organization")?;
    let key = create_key(db, org.id).await?;
    Ok(CreatedOrganization {
        id: org.id,
        name: org.name,
        api_key: key.api_key,
        key_prefix: key.key_prefix,
    })
}

/// The organization, or an error naming the id nobody has.
#[tracing::instrument(skip(db))]
pub async fn find_organization(
    db: &DatabaseConnection,
    organization_id: i64,
) -> anyhow::Result<organization::Model> {
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await
        .context("could not read the organization")?
        .with_context(|| format!("there is no organization {organization_id}"))
}

#[tracing::instrument(skip(db))]
pub async fn create_key(
    db: &DatabaseConnection,
    organization_id: i64,
) -> anyhow::Result<CreatedKey> {
    find_organization(db, organization_id).await?;
    let key = ApiKey::generate();
    api_key::ActiveModel {
        organization_id: Set(organization_id),
        prefix: Set(key.prefix().to_owned()),
        key_hash: Set(key.hash()),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .context("could not store the API key")?;
    Ok(CreatedKey {
        organization_id,
        api_key: key.expose_secret().to_owned(),
        key_prefix: key.prefix().to_owned(),
    })
}

/// Revokes the key with this prefix; false when there is none (or it was already revoked).
#[tracing::instrument(skip(db))]
pub async fn revoke_key(db: &DatabaseConnection, prefix: &str) -> anyhow::Result<bool> {
    let result = api_key::Entity::update_many()
        .col_expr(
            api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Some(Utc::now())),
        )
        .filter(api_key::Column::Prefix.eq(prefix.trim()))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .context("could not revoke the key")?;
    Ok(result.rows_affected > 0)
}

/// Stores an organization's Stripe secret key, sealed with the master key.
#[tracing::instrument(skip(db, secrets, stripe_key))]
pub async fn set_stripe_key(
    db: &DatabaseConnection,
    secrets: &crate::store::secrets::SecretBox,
    organization_id: i64,
    stripe_key: &str,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        stripe_key.starts_with("sk_") || stripe_key.starts_with("rk_"),
        "that does not look like a Stripe secret key (sk_… or rk_…)"
    );
    anyhow::ensure!(
        stripe_key.len() <= 255 && stripe_key.chars().all(|c| c.is_ascii_graphic()),
        "that does not look like a Stripe secret key"
    );
    let sealed = secrets.seal(stripe_key)?;
    let updated = organization::Entity::update_many()
        .col_expr(
            organization::Column::StripeKeyCiphertext,
            sea_orm::sea_query::Expr::value(Some(sealed)),
        )
        .filter(organization::Column::Id.eq(organization_id))
        .exec(db)
        .await
        .context("could not store the Stripe key")?;
    anyhow::ensure!(
        updated.rows_affected == 1,
        "there is no organization {organization_id}"
    );
    Ok(())
}

/// Points the organization's ticket delivery at `url` and returns a fresh signing secret
/// (shown this once; stored sealed).
#[tracing::instrument(skip(db, secrets))]
pub async fn set_ticket_webhook(
    db: &DatabaseConnection,
    secrets: &crate::store::secrets::SecretBox,
    organization_id: i64,
    url: &str,
    format: &str,
) -> anyhow::Result<String> {
    let (url, format) = crate::domain::ticket::parse_ticket_webhook(url, format)
        .map_err(|errors| anyhow::anyhow!(errors.summary()))?;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let secret = format!("whsec_{}", hex::encode(bytes));
    let updated = organization::Entity::update_many()
        .col_expr(
            organization::Column::TicketWebhookUrl,
            sea_orm::sea_query::Expr::value(Some(url)),
        )
        .col_expr(
            organization::Column::TicketWebhookSecret,
            sea_orm::sea_query::Expr::value(Some(secrets.seal(&secret)?)),
        )
        .col_expr(
            organization::Column::TicketWebhookFormat,
            sea_orm::sea_query::Expr::value(Some(format)),
        )
        .filter(organization::Column::Id.eq(organization_id))
        .exec(db)
        .await
        .context("could not store the ticket webhook")?;
    anyhow::ensure!(
        updated.rows_affected == 1,
        "there is no organization {organization_id}"
    );
    Ok(secret)
}

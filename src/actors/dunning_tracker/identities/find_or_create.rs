//! The one-by-one path: finding or creating a single end user, for what a batch could not
//! settle.
use chrono::Utc;
use entity::end_user;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, SqlErr,
};

use crate::actors::Failure;
use crate::domain::EndUserRef;
use crate::store::end_user_changes;

/// Finds the end user by Stripe customer id or email within the organization, filling in
/// whichever identifier it lacks; creates it when neither is known. Safe under concurrency:
/// a lost insert race reads the winner's row. The one-by-one path for what a batch could not
/// settle (a batch that failed, or identifiers contended round after round).
#[tracing::instrument(skip(db))]
pub(super) async fn find_or_create(
    db: &DatabaseConnection,
    organization_id: i64,
    who: &EndUserRef,
) -> Result<end_user::Model, Failure> {
    let email = who.email.as_ref().map(|e| e.as_str().to_owned());
    let customer = who.stripe_customer_id.clone();
    for _ in 0..3 {
        let mut any = Condition::any();
        if let Some(email) = &email {
            any = any.add(end_user::Column::Email.eq(email.clone()));
        }
        if let Some(customer) = &customer {
            any = any.add(end_user::Column::StripeCustomerId.eq(customer.clone()));
        }
        let found = end_user::Entity::find()
            .filter(end_user::Column::OrganizationId.eq(organization_id))
            .filter(any)
            .all(db)
            .await?;
        // The Stripe customer is the stronger identity when the two point at different rows.
        let chosen = found
            .iter()
            .find(|u| customer.is_some() && u.stripe_customer_id == customer)
            .or_else(|| found.first())
            .cloned();
        if let Some(user) = chosen {
            return Ok(complete_identity(db, user, &email, &customer).await);
        }
        let now = Utc::now();
        let created = end_user::ActiveModel {
            organization_id: Set(organization_id),
            email: Set(email.clone()),
            stripe_customer_id: Set(customer.clone()),
            needs_payment_update: Set(false),
            payment_failures: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await;
        match created {
            Ok(user) => return Ok(user),
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Unexpected(anyhow::anyhow!(
        "could not settle on an end user after repeated conflicts"
    )))
}

/// Records an identifier the row lacks. If another row already owns it, the row is kept as
/// it is (the two stay distinct rather than being merged by guesswork).
async fn complete_identity(
    db: &DatabaseConnection,
    user: end_user::Model,
    email: &Option<String>,
    customer: &Option<String>,
) -> end_user::Model {
    let add_email = user.email.is_none() && email.is_some();
    let add_customer = user.stripe_customer_id.is_none() && customer.is_some();
    if !add_email && !add_customer {
        return user;
    }
    let mut active: end_user::ActiveModel = user.clone().into();
    if add_email {
        active.email = Set(email.clone());
    }
    if add_customer {
        active.stripe_customer_id = Set(customer.clone());
    }
    active.updated_at = Set(Utc::now());
    match active.update(db).await {
        Ok(updated) => {
            // Other instances may hold the row without the identifier just added.
            let changed = [(updated.organization_id, updated.id)];
            if let Err(e) = end_user_changes::announce(db, None, &changed).await {
                tracing::warn!(error = %e, user = updated.id, "could not announce an end-user change");
            }
            updated
        }
        Err(e) => {
            if !is_unique_violation(&e) {
                tracing::warn!(error = %e, user = user.id, "could not complete end user identity");
            }
            user
        }
    }
}

fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

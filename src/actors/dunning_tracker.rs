//! DunningTracker: end users, their payment health (dunning) and success signals.
use actix::prelude::*;
use chrono::Utc;
use entity::{dunning_episode, end_user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, SqlErr,
};

use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::{payment_event::is_payment_event, EndUserRef};

pub struct DunningTracker {
    db: DatabaseConnection,
}

impl DunningTracker {
    pub fn new(db: DatabaseConnection) -> Self {
        DunningTracker { db }
    }
}

impl Actor for DunningTracker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// What the cancel flow needs to know about an end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndUserState {
    pub id: i64,
    /// Flagged by dunning and not yet recovered.
    pub show_update_card: bool,
    /// Never sent a success signal.
    pub show_onboarding_prompt: bool,
    /// Saveloops knows the end user's Stripe customer (so its subscription can be found).
    pub has_stripe_customer: bool,
}

impl From<&end_user::Model> for EndUserState {
    fn from(user: &end_user::Model) -> Self {
        EndUserState {
            id: user.id,
            show_update_card: user.needs_payment_update,
            show_onboarding_prompt: user.last_success_at.is_none(),
            has_stripe_customer: user.stripe_customer_id.is_some(),
        }
    }
}

/// Finds the end user a request names, creating it on first sight.
#[derive(Message)]
#[rtype(result = "Result<EndUserState, Failure>")]
pub struct Identify {
    pub organization_id: i64,
    pub who: EndUserRef,
}

impl Handler<Identify> for DunningTracker {
    type Result = ResponseFuture<Result<EndUserState, Failure>>;

    fn handle(&mut self, msg: Identify, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let user = find_or_create(&db, msg.organization_id, &msg.who).await?;
            Ok(EndUserState::from(&user))
        })
    }
}

/// A failed payment: flag the end user for a card update.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordPaymentFailure {
    pub organization_id: i64,
    pub who: EndUserRef,
}

impl Handler<RecordPaymentFailure> for DunningTracker {
    type Result = ResponseFuture<Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordPaymentFailure, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let user = find_or_create(&db, msg.organization_id, &msg.who).await?;
            let now = Utc::now();
            // One statement, so concurrent failures all count.
            end_user::Entity::update_many()
                .col_expr(end_user::Column::NeedsPaymentUpdate, Expr::value(true))
                .col_expr(
                    end_user::Column::PaymentFailures,
                    Expr::col(end_user::Column::PaymentFailures).add(1),
                )
                .col_expr(
                    end_user::Column::FirstFailedAt,
                    Expr::col(end_user::Column::FirstFailedAt).if_null(now),
                )
                .col_expr(end_user::Column::LastFailedAt, Expr::value(now))
                .col_expr(end_user::Column::UpdatedAt, Expr::value(now))
                .filter(end_user::Column::Id.eq(user.id))
                .exec(&db)
                .await
                .map_err(|e| anyhow::Error::new(e).context("recording a payment failure"))?;
            record_episode_failure(&db, msg.organization_id, user.id, now)
                .await
                .map_err(|e| anyhow::Error::new(e).context("recording the dunning episode"))?;
            Ok(user.id)
        })
    }
}

/// A positive event; a payment event also ends dunning.
#[derive(Message)]
#[rtype(result = "Result<i64, Failure>")]
pub struct RecordSuccess {
    pub organization_id: i64,
    pub who: EndUserRef,
    pub event: String,
}

impl Handler<RecordSuccess> for DunningTracker {
    type Result = ResponseFuture<Result<i64, Failure>>;

    fn handle(&mut self, msg: RecordSuccess, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let user = find_or_create(&db, msg.organization_id, &msg.who).await?;
            let now = Utc::now();
            let mut update = end_user::Entity::update_many()
                .col_expr(end_user::Column::LastSuccessAt, Expr::value(now))
                .col_expr(
                    end_user::Column::LastSuccessEvent,
                    Expr::value(msg.event.clone()),
                )
                .col_expr(end_user::Column::UpdatedAt, Expr::value(now));
            if is_payment_event(&msg.event) {
                update = update
                    .col_expr(end_user::Column::NeedsPaymentUpdate, Expr::value(false))
                    .col_expr(end_user::Column::PaymentFailures, Expr::value(0))
                    .col_expr(
                        end_user::Column::FirstFailedAt,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    );
            }
            update
                .filter(end_user::Column::Id.eq(user.id))
                .exec(&db)
                .await
                .map_err(|e| anyhow::Error::new(e).context("recording a success signal"))?;
            if is_payment_event(&msg.event) {
                dunning_episode::Entity::update_many()
                    .col_expr(dunning_episode::Column::RecoveredAt, Expr::value(Some(now)))
                    .col_expr(
                        dunning_episode::Column::RecoveryEvent,
                        Expr::value(Some(msg.event.clone())),
                    )
                    .filter(dunning_episode::Column::EndUserId.eq(user.id))
                    .filter(dunning_episode::Column::RecoveredAt.is_null())
                    .exec(&db)
                    .await
                    .map_err(|e| anyhow::Error::new(e).context("closing the dunning episode"))?;
            }
            Ok(user.id)
        })
    }
}

/// Finds the end user by Stripe customer id or email within the organization, filling in
/// whichever identifier it lacks; creates it when neither is known. Safe under concurrency:
/// a lost insert race reads the winner's row.
/// Counts a failed payment in the end user's open dunning episode, opening one when there is
/// none (analytics reads episodes: flagged, recovered, recovery rate).
async fn record_episode_failure(
    db: &DatabaseConnection,
    organization_id: i64,
    end_user_id: i64,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    for _ in 0..2 {
        let extended = dunning_episode::Entity::update_many()
            .col_expr(
                dunning_episode::Column::Failures,
                Expr::col(dunning_episode::Column::Failures).add(1),
            )
            .col_expr(dunning_episode::Column::LastFailedAt, Expr::value(now))
            .filter(dunning_episode::Column::EndUserId.eq(end_user_id))
            .filter(dunning_episode::Column::RecoveredAt.is_null())
            .exec(db)
            .await?;
        if extended.rows_affected > 0 {
            return Ok(());
        }
        let opened = dunning_episode::ActiveModel {
            organization_id: Set(organization_id),
            end_user_id: Set(end_user_id),
            started_at: Set(now),
            last_failed_at: Set(now),
            failures: Set(1),
            recovered_at: Set(None),
            recovery_event: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await;
        match opened {
            Ok(_) => return Ok(()),
            // A concurrent failure opened it first: count this one in it.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[tracing::instrument(skip(db))]
pub async fn find_or_create(
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
        Ok(updated) => updated,
        Err(e) => {
            if !is_unique_violation(&e) {
                tracing::warn!(error = %e, user = user.id, "could not complete end user identity");
            }
            user
        }
    }
}

pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

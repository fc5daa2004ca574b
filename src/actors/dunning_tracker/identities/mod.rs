//! End users' identities: the identifying columns a lookup reads, the plain reads of them,
//! and (in the submodules) finding, creating and completing end users in batches.
//!
//! A cancel flow mostly meets an end user for the first time, so creating end users is on
//! the hot path as much as finding them. The lookups that share a query (`read_or_create`)
//! also create the end users they name that nobody stored: PostgreSQL in the same statement,
//! SQLite in one INSERT in the writers' turn before the read. What that leaves open — an end
//! user that gains an identifier, or lookups of one batch that share one — is settled by the
//! identity group commit (`create_or_complete`, one in flight): one statement of fixed text
//! creates and completes the whole batch (PostgreSQL: data-modifying CTEs over arrays;
//! SQLite: one row into the view `end_user_identity_batches`) and announces the completed end
//! users once for the commit; each lookup then picks its row as before.
mod find_or_create;
mod group_commit;
mod read_or_create;
mod settling;

use entity::end_user;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use super::end_user_cache::{Identifiers, Known};
use super::EndUserState;
use crate::domain::EndUserRef;
pub(super) use group_commit::create_or_complete;
pub(super) use read_or_create::read_or_create;
pub(super) use settling::settled;

/// The columns of an end user that the cache keeps: a lookup reads and decodes only these.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct Identity {
    pub(super) organization_id: i64,
    pub(super) id: i64,
    email: Option<String>,
    stripe_customer_id: Option<String>,
    needs_payment_update: bool,
    succeeded: bool,
}

impl Identity {
    /// Selects the identity columns of end users.
    fn select() -> Select<end_user::Entity> {
        end_user::Entity::find()
            .select_only()
            .columns([
                end_user::Column::OrganizationId,
                end_user::Column::Id,
                end_user::Column::Email,
                end_user::Column::StripeCustomerId,
                end_user::Column::NeedsPaymentUpdate,
            ])
            .column_as(end_user::Column::LastSuccessAt.is_not_null(), "succeeded")
    }

    pub(super) fn known(&self) -> Known {
        Known {
            id: self.id,
            state: EndUserState {
                id: self.id,
                show_update_card: self.needs_payment_update,
                show_onboarding_prompt: !self.succeeded,
                has_stripe_customer: self.stripe_customer_id.is_some(),
            },
            known_at: std::time::Instant::now(),
        }
    }

    pub(super) fn identifiers(&self) -> Identifiers<'_> {
        Identifiers {
            email: self.email.as_deref(),
            customer: self.stripe_customer_id.as_deref(),
        }
    }

    /// The identifiers `who` names that this row lacks: (email, Stripe customer id).
    fn lacks<'w>(&self, who: &'w EndUserRef) -> (Option<&'w str>, Option<&'w str>) {
        let email = who.email.as_ref().map(|e| e.as_str());
        let customer = who.stripe_customer_id.as_deref();
        (
            email.filter(|_| self.email.is_none()),
            customer.filter(|_| self.stripe_customer_id.is_none()),
        )
    }
}

impl From<end_user::Model> for Identity {
    fn from(user: end_user::Model) -> Self {
        Identity {
            organization_id: user.organization_id,
            id: user.id,
            email: user.email,
            stripe_customer_id: user.stripe_customer_id,
            needs_payment_update: user.needs_payment_update,
            succeeded: user.last_success_at.is_some(),
        }
    }
}

/// The newest end users (of every organization) with an id below `before`, newest first.
#[tracing::instrument(skip(db))]
pub(super) async fn newest_identities(
    db: &DatabaseConnection,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Identity>, DbErr> {
    let mut select = Identity::select();
    if let Some(before) = before {
        select = select.filter(end_user::Column::Id.lt(before));
    }
    select
        .order_by_desc(end_user::Column::Id)
        .limit(limit as u64)
        .into_model::<Identity>()
        .all(db)
        .await
}

/// The stored end users of the organization that own any identifier the lookups name.
async fn rows_naming<'a>(
    db: &DatabaseConnection,
    organization_id: i64,
    who: impl Iterator<Item = &'a EndUserRef>,
) -> Result<Vec<Identity>, DbErr> {
    let mut emails: Vec<&str> = Vec::new();
    let mut customers: Vec<&str> = Vec::new();
    for who in who {
        if let Some(email) = &who.email {
            emails.push(email.as_str());
        }
        if let Some(customer) = &who.stripe_customer_id {
            customers.push(customer.as_str());
        }
    }
    emails.sort_unstable();
    emails.dedup();
    customers.sort_unstable();
    customers.dedup();
    let mut any = Condition::any();
    if !emails.is_empty() {
        any = any.add(end_user::Column::Email.is_in(emails));
    }
    if !customers.is_empty() {
        any = any.add(end_user::Column::StripeCustomerId.is_in(customers));
    }
    Identity::select()
        .filter(end_user::Column::OrganizationId.eq(organization_id))
        .filter(any)
        .into_model::<Identity>()
        .all(db)
        .await
}

/// Rows of (id, email, stripe_customer_id, needs_payment_update, succeeded) as identities.
fn identities_of(
    organization_id: i64,
    rows: &[sea_orm::sqlx::postgres::PgRow],
) -> Result<Vec<Identity>, DbErr> {
    use sea_orm::sqlx::Row;
    rows.iter()
        .map(|row| {
            Ok(Identity {
                organization_id,
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                stripe_customer_id: row.try_get("stripe_customer_id")?,
                needs_payment_update: row.try_get("needs_payment_update")?,
                succeeded: row.try_get("succeeded")?,
            })
        })
        .collect::<Result<_, sea_orm::sqlx::Error>>()
        .map_err(crate::store::database::sqlx_failure)
}

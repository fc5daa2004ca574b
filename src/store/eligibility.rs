//! Reading what eligibility needs: one end user's acceptances and offers' totals. Only
//! called when an offer in play has a rule that needs them, and always through indexes
//! ((organization, end user) and offer id): never a table scan on the request path.
//!
//! An acceptance is a saved outcome the client reported (`source = outcome`), or an offer
//! application that Stripe did not refuse for good. An applied offer's own save outcome
//! (`source = apply_offer`) is that application again, so it is not counted twice.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{offer_application, outcome};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::domain::eligibility::Acceptance;
use crate::domain::OfferType;

/// Applications in these states are not acceptances: Stripe refused them for good.
const REFUSED: &str = "failed";

#[tracing::instrument(skip(db, kind_of))]
pub async fn history(
    db: &DatabaseConnection,
    organization_id: i64,
    end_user_id: i64,
    kind_of: impl Fn(i64) -> Option<OfferType>,
) -> Result<Vec<Acceptance>, DbErr> {
    let saved = outcome::Entity::find()
        .select_only()
        .column(outcome::Column::OfferId)
        .column(outcome::Column::CreatedAt)
        .filter(outcome::Column::OrganizationId.eq(organization_id))
        .filter(outcome::Column::EndUserId.eq(end_user_id))
        // Literal, not bound: it is the predicate of the partial index this query reads
        // (`idx_outcomes_org_end_user_accepted`), and a planner can only match it as text.
        .filter(Expr::cust("status = 'saved' AND source = 'outcome'"))
        .into_tuple::<(i64, DateTime<Utc>)>()
        .all(db);
    let applied = offer_application::Entity::find()
        .select_only()
        .column(offer_application::Column::OfferId)
        .column(offer_application::Column::CreatedAt)
        .filter(offer_application::Column::OrganizationId.eq(organization_id))
        .filter(offer_application::Column::EndUserId.eq(end_user_id))
        .filter(offer_application::Column::Status.ne(REFUSED))
        .into_tuple::<(i64, DateTime<Utc>)>()
        .all(db);
    let (saved, applied) = futures_util::future::try_join(saved, applied).await?;
    Ok(saved
        .into_iter()
        .chain(applied)
        .map(|(offer_id, at)| Acceptance {
            offer_id,
            kind: kind_of(offer_id),
            at,
        })
        .collect())
}

/// Acceptances of each offer over all end users.
#[tracing::instrument(skip(db))]
pub async fn totals(
    db: &DatabaseConnection,
    offer_ids: &[i64],
) -> Result<HashMap<i64, u64>, DbErr> {
    let saved = outcome::Entity::find()
        .select_only()
        .column(outcome::Column::OfferId)
        .column_as(count(outcome::Column::Id), "n")
        .filter(outcome::Column::OfferId.is_in(offer_ids.iter().copied()))
        .filter(outcome::Column::Status.eq("saved"))
        .filter(outcome::Column::Source.eq("outcome"))
        .group_by(outcome::Column::OfferId)
        .into_tuple::<(i64, i64)>()
        .all(db);
    let applied = offer_application::Entity::find()
        .select_only()
        .column(offer_application::Column::OfferId)
        .column_as(count(offer_application::Column::Id), "n")
        .filter(offer_application::Column::OfferId.is_in(offer_ids.iter().copied()))
        .filter(offer_application::Column::Status.ne(REFUSED))
        .group_by(offer_application::Column::OfferId)
        .into_tuple::<(i64, i64)>()
        .all(db);
    let (saved, applied) = futures_util::future::try_join(saved, applied).await?;
    let mut totals = HashMap::new();
    for (offer_id, n) in saved.into_iter().chain(applied) {
        *totals.entry(offer_id).or_insert(0) += n.max(0) as u64;
    }
    Ok(totals)
}

/// `COUNT(column)`; the trait stays local so that `min`/`max` on numbers keep their meaning.
fn count(column: impl sea_orm::sea_query::IntoColumnRef) -> Expr {
    use sea_orm::sea_query::ExprTrait;
    Expr::col(column).count()
}

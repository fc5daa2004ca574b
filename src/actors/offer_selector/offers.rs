//! The offers API: listing, creating, updating and deleting (or, with history, retiring)
//! an organization's offers, forgetting the cached catalog after each change.
use actix::prelude::*;
use chrono::Utc;
use entity::{offer, offer_application, outcome};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde_json::{json, Map, Value};

use super::catalog::CatalogOffer;
use super::OfferSelector;
use crate::actors::{guard_act, Failure};
use crate::domain::offer_draft::{as_body, merge_patch, parse_offer, OfferDraft};
use crate::domain::Mrr;

/// The offers API.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageOffers {
    List {
        organization_id: i64,
    },
    Get {
        organization_id: i64,
        offer_id: i64,
    },
    /// A draft the handler parsed with the domain's rules.
    Create {
        organization_id: i64,
        draft: OfferDraft,
    },
    /// Fields merged over the stored offer, then checked as a whole draft.
    Update {
        organization_id: i64,
        offer_id: i64,
        patch: Map<String, Value>,
    },
    Delete {
        organization_id: i64,
        offer_id: i64,
    },
}

fn not_found(offer_id: i64) -> Failure {
    Failure::NotFound(format!("Offer {offer_id} not found."))
}

impl Handler<ManageOffers> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageOffers, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageOffers::List { organization_id } => {
                guard_act(self.catalog(organization_id).map(|catalog, _, _| {
                    let catalog = catalog?;
                    let offers: Vec<Value> =
                        catalog.offers.iter().map(CatalogOffer::resource).collect();
                    Ok(json!({ "data": offers }))
                }))
            }
            ManageOffers::Get {
                organization_id,
                offer_id,
            } => guard_act(self.catalog(organization_id).map(move |catalog, _, _| {
                catalog?
                    .offer(offer_id)
                    .map(CatalogOffer::resource)
                    .ok_or_else(|| not_found(offer_id))
            })),
            ManageOffers::Create {
                organization_id,
                draft,
            } => {
                let work = async move {
                    let now = Utc::now();
                    let mut row = draft_to_row(&draft);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(now);
                    row.updated_at = Set(now);
                    let saved = row.insert(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource())
                };
                guard_act(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
                )
            }
            ManageOffers::Update {
                organization_id,
                offer_id,
                patch,
            } => {
                let work = async move {
                    let current = find_row(&db, organization_id, offer_id).await?;
                    let body = merge_patch(
                        as_body(&CatalogOffer::from_row(current.clone())?.resource()),
                        &patch,
                    );
                    let draft = parse_offer(&body).map_err(Failure::Invalid)?;
                    let mut row = draft_to_row(&draft);
                    row.id = Set(current.id);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(current.created_at);
                    row.updated_at = Set(Utc::now());
                    let saved = row.update(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource())
                };
                guard_act(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
                )
            }
            ManageOffers::Delete {
                organization_id,
                offer_id,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            // An experiment that is not stopped would lose an arm's offer.
                            if let Some(e) = catalog?.live_experiment_with_offer(offer_id) {
                                return Err(Failure::Refused(format!(
                                    "Offer {offer_id} is in experiment {} ({}), which is {}: stop the experiment (or take the offer out of its arms while it is a draft) first.",
                                    e.id,
                                    e.name,
                                    e.status.as_str()
                                )));
                            }
                            delete_offer(&db, organization_id, offer_id).await
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
        }
    }
}

async fn delete_offer(
    db: &DatabaseConnection,
    organization_id: i64,
    offer_id: i64,
) -> Result<Value, Failure> {
    let current = find_row(db, organization_id, offer_id).await?;
    let history = outcome::Entity::find()
        .filter(outcome::Column::OfferId.eq(offer_id))
        .count(db)
        .await?
        + offer_application::Entity::find()
            .filter(offer_application::Column::OfferId.eq(offer_id))
            .count(db)
            .await?;
    if history > 0 {
        // Outcomes or applications point at it: keep the row so history keeps its meaning.
        let mut row: offer::ActiveModel = current.into();
        row.active = Set(false);
        row.updated_at = Set(Utc::now());
        row.update(db).await?;
        Ok(
            json!({"message": "Offer deactivated: it has recorded outcomes or applications, so it is kept for history.", "deleted": false, "active": false}),
        )
    } else {
        offer::Entity::delete_by_id(offer_id).exec(db).await?;
        Ok(json!({"message": "Offer deleted.", "deleted": true}))
    }
}

async fn find_row(
    db: &DatabaseConnection,
    organization_id: i64,
    offer_id: i64,
) -> Result<offer::Model, Failure> {
    offer::Entity::find_by_id(offer_id)
        .filter(offer::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or_else(|| not_found(offer_id))
}

pub(super) fn rule_column(value: Option<u32>) -> Option<i32> {
    value.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}

fn draft_to_row(draft: &OfferDraft) -> offer::ActiveModel {
    let triggers: Vec<&str> = draft
        .placement
        .triggers
        .iter()
        .map(|t| t.as_str())
        .collect();
    offer::ActiveModel {
        kind: Set(draft.kind.as_str().to_owned()),
        value: Set(draft.value),
        label: Set(draft.label.clone()),
        config: Set(Value::Object(draft.config.0.clone()).to_string()),
        target_id: Set(draft.placement.target_id.clone()),
        triggers: Set(serde_json::to_string(&triggers).unwrap_or_else(|_| "[]".into())),
        min_mrr_e4: Set(draft.placement.min_mrr.map(Mrr::to_storage)),
        max_mrr_e4: Set(draft.placement.max_mrr.map(Mrr::to_storage)),
        priority: Set(draft.priority),
        active: Set(draft.active),
        cooldown_days: Set(rule_column(draft.rules.cooldown_days)),
        type_cooldown_days: Set(rule_column(draft.rules.type_cooldown_days)),
        max_redemptions: Set(rule_column(draft.rules.max_redemptions)),
        max_redemptions_per_user: Set(rule_column(draft.rules.max_redemptions_per_user)),
        requires_subscription: Set(draft.rules.requires_subscription),
        ..Default::default()
    }
}

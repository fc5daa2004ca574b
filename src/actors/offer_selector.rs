//! OfferSelector: an organization's offers, cached, and which of them fit a cancel-flow
//! context. Offers are managed through it too, so this process's cache is always current;
//! changes made by other instances are picked up after the cache TTL.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::fut::LocalBoxActorFuture;
use actix::prelude::*;
use chrono::Utc;
use entity::{offer, offer_application, outcome};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{json, Map, Value};

use super::dunning_tracker::{DunningTracker, EndUserState, Identify};
use super::outcome_recorder::{NewImpression, OutcomeRecorder, Record};
use super::{Failure, MAILBOX_CAPACITY};
use crate::domain::offer::{number_json, Placement};
use crate::domain::{EndUserRef, Mrr, OfferType, Trigger};
use crate::http::offer_body::{as_body, merge_patch, mrr_json, parse_offer, OfferDraft};

/// An offer as the selector keeps it in memory.
#[derive(Debug, Clone)]
pub struct CatalogOffer {
    pub id: i64,
    pub kind: OfferType,
    pub value: f64,
    pub config: Value,
    pub placement: Placement,
    pub active: bool,
    /// The offer as intercept shows it.
    pub shown: Value,
    /// The offer as the offers API shows it.
    pub resource: Value,
}

impl CatalogOffer {
    fn from_row(row: offer::Model) -> Result<CatalogOffer, Failure> {
        let kind = OfferType::parse(&row.kind)
            .ok_or_else(|| anyhow::anyhow!("offer {} has unknown type {}", row.id, row.kind))?;
        let config: Value = serde_json::from_str(&row.config)
            .map_err(|e| anyhow::anyhow!("offer {} has unreadable config: {e}", row.id))?;
        let trigger_names: Vec<String> = serde_json::from_str(&row.triggers)
            .map_err(|e| anyhow::anyhow!("offer {} has unreadable triggers: {e}", row.id))?;
        let placement = Placement {
            target_id: row.target_id.clone(),
            triggers: trigger_names
                .iter()
                .filter_map(|t| Trigger::parse(t))
                .collect(),
            min_mrr: row.min_mrr_e4.map(Mrr::from_storage),
            max_mrr: row.max_mrr_e4.map(Mrr::from_storage),
        };
        let shown = json!({
            "id": row.id,
            "type": row.kind,
            "value": number_json(row.value),
            "label": row.label,
            "config": config,
            "experiment": null,
        });
        let resource = json!({
            "id": row.id,
            "type": row.kind,
            "value": number_json(row.value),
            "label": row.label,
            "config": config,
            "target_id": row.target_id,
            "triggers": trigger_names,
            "min_mrr": mrr_json(placement.min_mrr),
            "max_mrr": mrr_json(placement.max_mrr),
            "priority": row.priority,
            "active": row.active,
            "created_at": row.created_at.to_rfc3339(),
            "updated_at": row.updated_at.to_rfc3339(),
        });
        Ok(CatalogOffer {
            id: row.id,
            kind,
            value: row.value,
            config,
            placement,
            active: row.active,
            shown,
            resource,
        })
    }
}

/// One organization's offers, highest priority first (then oldest first).
type Catalog = Arc<Vec<CatalogOffer>>;

pub struct OfferSelector {
    db: DatabaseConnection,
    ttl: Duration,
    catalogs: HashMap<i64, (Catalog, Instant)>,
    dunning: Addr<DunningTracker>,
    recorder: Addr<OutcomeRecorder>,
}

impl OfferSelector {
    pub fn new(
        db: DatabaseConnection,
        ttl: Duration,
        dunning: Addr<DunningTracker>,
        recorder: Addr<OutcomeRecorder>,
    ) -> Self {
        OfferSelector {
            db,
            ttl,
            catalogs: HashMap::new(),
            dunning,
            recorder,
        }
    }

    /// The organization's catalog, from memory when fresh.
    fn catalog(
        &mut self,
        organization_id: i64,
    ) -> LocalBoxActorFuture<Self, Result<Catalog, Failure>> {
        if let Some((catalog, loaded_at)) = self.catalogs.get(&organization_id) {
            if loaded_at.elapsed() < self.ttl {
                return fut::ready(Ok(catalog.clone())).boxed_local();
            }
        }
        let db = self.db.clone();
        fut::wrap_future(load_catalog(db, organization_id))
            .map(move |loaded, act: &mut Self, _| {
                let catalog = loaded?;
                act.catalogs
                    .insert(organization_id, (catalog.clone(), Instant::now()));
                Ok(catalog)
            })
            .boxed_local()
    }
}

#[tracing::instrument(skip(db))]
async fn load_catalog(db: DatabaseConnection, organization_id: i64) -> Result<Catalog, Failure> {
    let rows = offer::Entity::find()
        .filter(offer::Column::OrganizationId.eq(organization_id))
        .order_by_desc(offer::Column::Priority)
        .order_by_asc(offer::Column::Id)
        .all(&db)
        .await?;
    let offers = rows
        .into_iter()
        .map(CatalogOffer::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(offers))
}

impl Actor for OfferSelector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// A cancel or exit intent.
#[derive(Message)]
#[rtype(result = "Result<InterceptAnswer, Failure>")]
pub struct Intercept {
    pub organization_id: i64,
    pub target_id: String,
    pub trigger: Option<Trigger>,
    pub mrr: Option<Mrr>,
    pub who: Option<EndUserRef>,
}

#[derive(Debug, Clone)]
pub struct InterceptAnswer {
    pub offers: Vec<Value>,
    pub show_update_card: bool,
    pub show_onboarding_prompt: bool,
}

impl Handler<Intercept> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<InterceptAnswer, Failure>>;

    fn handle(&mut self, msg: Intercept, _: &mut Self::Context) -> Self::Result {
        // Identifying the end user runs while the offers are picked.
        let identify = msg.who.clone().map(|who| {
            self.dunning.send(Identify {
                organization_id: msg.organization_id,
                who,
            })
        });
        let recorder = self.recorder.clone();
        Box::pin(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        let chosen: Vec<&CatalogOffer> = catalog
                            .iter()
                            .filter(|o| {
                                o.active && o.placement.fits(&msg.target_id, msg.trigger, msg.mrr)
                            })
                            .collect();
                        let user: Option<EndUserState> = match identify {
                            Some(request) => Some(request.await.map_err(|e| {
                                anyhow::anyhow!("dunning tracker unavailable: {e}")
                            })??),
                            None => None,
                        };
                        recorder
                            .send(Record::Impression(NewImpression {
                                organization_id: msg.organization_id,
                                end_user_id: user.map(|u| u.id),
                                target_id: msg.target_id,
                                trigger: msg.trigger.map(|t| t.as_str().to_owned()),
                                mrr_e4: msg.mrr.map(Mrr::to_storage),
                                offer_ids: chosen.iter().map(|o| o.id).collect(),
                            }))
                            .await
                            .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))??;
                        Ok(InterceptAnswer {
                            offers: chosen.iter().map(|o| o.shown.clone()).collect(),
                            show_update_card: user.is_some_and(|u| u.show_update_card),
                            show_onboarding_prompt: user.is_some_and(|u| u.show_onboarding_prompt),
                        })
                    })
                }),
        )
    }
}

/// One offer of the organization, active or not (None when it has no such offer).
#[derive(Message)]
#[rtype(result = "Result<Option<CatalogOffer>, Failure>")]
pub struct FindOffer {
    pub organization_id: i64,
    pub offer_id: i64,
}

impl Handler<FindOffer> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Option<CatalogOffer>, Failure>>;

    fn handle(&mut self, msg: FindOffer, _: &mut Self::Context) -> Self::Result {
        Box::pin(
            self.catalog(msg.organization_id).map(move |catalog, _, _| {
                Ok(catalog?.iter().find(|o| o.id == msg.offer_id).cloned())
            }),
        )
    }
}

/// Active offers of the given types, optionally for one target (sentiment's suggestions).
#[derive(Message)]
#[rtype(result = "Result<Vec<Value>, Failure>")]
pub struct OffersOfTypes {
    pub organization_id: i64,
    pub types: Vec<OfferType>,
    pub target_id: Option<String>,
}

impl Handler<OffersOfTypes> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Vec<Value>, Failure>>;

    fn handle(&mut self, msg: OffersOfTypes, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.catalog(msg.organization_id).map(move |catalog, _, _| {
            Ok(catalog?
                .iter()
                .filter(|o| o.active && msg.types.contains(&o.kind))
                .filter(|o| match (&msg.target_id, &o.placement.target_id) {
                    (Some(wanted), Some(target)) => wanted == target,
                    _ => true,
                })
                .map(|o| o.shown.clone())
                .collect())
        }))
    }
}

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
    Create {
        organization_id: i64,
        body: Map<String, Value>,
    },
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
                Box::pin(self.catalog(organization_id).map(|catalog, _, _| {
                    let catalog = catalog?;
                    let offers: Vec<Value> = catalog.iter().map(|o| o.resource.clone()).collect();
                    Ok(json!({ "data": offers }))
                }))
            }
            ManageOffers::Get {
                organization_id,
                offer_id,
            } => Box::pin(self.catalog(organization_id).map(move |catalog, _, _| {
                catalog?
                    .iter()
                    .find(|o| o.id == offer_id)
                    .map(|o| o.resource.clone())
                    .ok_or_else(|| not_found(offer_id))
            })),
            ManageOffers::Create {
                organization_id,
                body,
            } => {
                let work = async move {
                    let draft = parse_offer(&body).map_err(Failure::Invalid)?;
                    let now = Utc::now();
                    let mut row = draft_to_row(&draft);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(now);
                    row.updated_at = Set(now);
                    let saved = row.insert(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource)
                };
                Box::pin(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.catalogs.remove(&organization_id);
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
                        as_body(&CatalogOffer::from_row(current.clone())?.resource),
                        &patch,
                    );
                    let draft = parse_offer(&body).map_err(Failure::Invalid)?;
                    let mut row = draft_to_row(&draft);
                    row.id = Set(current.id);
                    row.organization_id = Set(organization_id);
                    row.created_at = Set(current.created_at);
                    row.updated_at = Set(Utc::now());
                    let saved = row.update(&db).await?;
                    Ok(CatalogOffer::from_row(saved)?.resource)
                };
                Box::pin(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.catalogs.remove(&organization_id);
                        result
                    }),
                )
            }
            ManageOffers::Delete {
                organization_id,
                offer_id,
            } => {
                let work = async move {
                    let current = find_row(&db, organization_id, offer_id).await?;
                    let history = outcome::Entity::find()
                        .filter(outcome::Column::OfferId.eq(offer_id))
                        .count(&db)
                        .await?
                        + offer_application::Entity::find()
                            .filter(offer_application::Column::OfferId.eq(offer_id))
                            .count(&db)
                            .await?;
                    if history > 0 {
                        // Outcomes or applications point at it: keep the row so history keeps its meaning.
                        let mut row: offer::ActiveModel = current.into();
                        row.active = Set(false);
                        row.updated_at = Set(Utc::now());
                        row.update(&db).await?;
                        Ok(
                            json!({"message": "Offer deactivated: it has recorded outcomes or applications, so it is kept for history.", "deleted": false, "active": false}),
                        )
                    } else {
                        offer::Entity::delete_by_id(offer_id).exec(&db).await?;
                        Ok(json!({"message": "Offer deleted.", "deleted": true}))
                    }
                };
                Box::pin(
                    fut::wrap_future(work).map(move |result, act: &mut Self, _| {
                        act.catalogs.remove(&organization_id);
                        result
                    }),
                )
            }
        }
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
        ..Default::default()
    }
}

/// An end user's choice after seeing an offer; the offer must be one of the organization's.
#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct RecordOutcome {
    pub organization_id: i64,
    pub offer_id: i64,
    pub status: super::outcome_recorder::OutcomeStatus,
    pub who: Option<EndUserRef>,
    pub mrr: Option<Mrr>,
}

impl Handler<RecordOutcome> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<(), Failure>>;

    fn handle(&mut self, msg: RecordOutcome, _: &mut Self::Context) -> Self::Result {
        let dunning = self.dunning.clone();
        let recorder = self.recorder.clone();
        Box::pin(
            self.catalog(msg.organization_id)
                .then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        if !catalog?.iter().any(|o| o.id == msg.offer_id) {
                            return Err(Failure::Invalid(
                                crate::http::errors::ValidationErrors::single(
                                    "offer_id",
                                    "The selected offer id is invalid.",
                                ),
                            ));
                        }
                        let end_user_id = match msg.who {
                            Some(who) => Some(
                                dunning
                                    .send(Identify {
                                        organization_id: msg.organization_id,
                                        who,
                                    })
                                    .await
                                    .map_err(|e| {
                                        anyhow::anyhow!("dunning tracker unavailable: {e}")
                                    })??
                                    .id,
                            ),
                            None => None,
                        };
                        recorder
                            .send(Record::Outcome(super::outcome_recorder::NewOutcome {
                                organization_id: msg.organization_id,
                                offer_id: msg.offer_id,
                                end_user_id,
                                status: msg.status,
                                mrr_e4: msg.mrr.map(Mrr::to_storage),
                                source: "outcome",
                            }))
                            .await
                            .map_err(|e| anyhow::anyhow!("outcome recorder unavailable: {e}"))?
                    })
                }),
        )
    }
}

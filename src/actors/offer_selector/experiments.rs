//! The experiments API: creating and changing experiments, what keeps one from starting,
//! results, and promoting an arm when one stops.
use actix::prelude::*;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, DatabaseConnection};
use serde_json::{json, Map, Value};

use super::catalog::{Catalog, CatalogData};
use super::OfferSelector;
use crate::actors::save_validation::{add_held_saves, held_saves_by_arm};
use crate::actors::{guard_act, Failure};
use crate::domain::experiment::ExperimentStatus;
use crate::domain::experiment_draft::{self, parse_experiment, FrozenArms, DRAFT_ONLY};
use crate::domain::offer_draft::merge_patch;
use crate::domain::validation::ValidationErrors;
use crate::store::experiments::{self, CatalogExperiment, Promotion};

/// The experiments API.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageExperiments {
    List {
        organization_id: i64,
    },
    Get {
        organization_id: i64,
        experiment_id: i64,
    },
    Create {
        organization_id: i64,
        body: Map<String, Value>,
    },
    Update {
        organization_id: i64,
        experiment_id: i64,
        patch: Map<String, Value>,
    },
    Results {
        organization_id: i64,
        experiment_id: i64,
    },
}

fn experiment_not_found(id: i64) -> Failure {
    Failure::NotFound(format!("Experiment {id} not found."))
}

/// What keeps an experiment from running: another running experiment on the same target
/// and trigger (a call could not belong to both), or an offer already in another running
/// experiment (its outcomes could not be attributed).
fn start_conflicts(
    catalog: &CatalogData,
    experiment_id: Option<i64>,
    draft: &experiment_draft::ExperimentDraft,
) -> ValidationErrors {
    let mut errors = ValidationErrors::default();
    for other in catalog
        .experiments
        .iter()
        .filter(|e| e.is_running() && Some(e.id) != experiment_id)
    {
        if experiments::overlaps(&draft.target_id, draft.trigger, other) {
            errors.add(
                "status",
                format!(
                    "Experiment {} ({}) is already running on target {}; stop it first.",
                    other.id, other.name, other.target_id
                ),
            );
        }
        for arm in &draft.arms {
            for id in arm
                .offer_ids
                .iter()
                .filter(|id| other.arm_of_offer(**id).is_some())
            {
                errors.add(
                    "arms",
                    format!(
                        "Offer {id} is already in running experiment {} ({}).",
                        other.id, other.name
                    ),
                );
            }
        }
    }
    errors
}

/// Arm offers that are inactive now: they show only through the experiment.
fn experiment_only(catalog: &CatalogData, draft: &experiment_draft::ExperimentDraft) -> String {
    let ids: Vec<i64> = draft
        .arms
        .iter()
        .flat_map(|a| a.offer_ids.iter().copied())
        .filter(|id| catalog.offer(*id).is_some_and(|o| !o.active))
        .collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
}

async fn create_experiment(
    db: DatabaseConnection,
    catalog: Catalog,
    organization_id: i64,
    body: Map<String, Value>,
) -> Result<Value, Failure> {
    let draft = parse_experiment(&body, &*catalog, &catalog.settings).map_err(Failure::Invalid)?;
    if draft.status == ExperimentStatus::Stopped {
        return Err(Failure::Invalid(ValidationErrors::single(
            "status",
            "The status field must be draft or running when an experiment is created.",
        )));
    }
    let now = Utc::now();
    let mut row = experiments::draft_to_row(&draft);
    if draft.status == ExperimentStatus::Running {
        let conflicts = start_conflicts(&catalog, None, &draft);
        if !conflicts.is_empty() {
            return Err(Failure::Invalid(conflicts));
        }
        row.experiment_only_offer_ids = Set(Some(experiment_only(&catalog, &draft)));
    }
    experiments::stamp(&mut row, ExperimentStatus::Draft, draft.status, now);
    row.organization_id = Set(organization_id);
    row.created_at = Set(now);
    row.updated_at = Set(now);
    let saved = experiments::save(&db, organization_id, row, None).await?;
    Ok(CatalogExperiment::from_row(saved)?.resource)
}

async fn update_experiment(
    db: DatabaseConnection,
    catalog: Catalog,
    organization_id: i64,
    experiment_id: i64,
    mut patch: Map<String, Value>,
) -> Result<Value, Failure> {
    let current = catalog
        .experiment(experiment_id)
        .ok_or_else(|| experiment_not_found(experiment_id))?;
    // Promotion is an action of this PATCH, not a stored field.
    let promote_body: Map<String, Value> = ["promote_winner", "promote_arm"]
        .iter()
        .filter_map(|key| patch.remove(*key).map(|v| ((*key).to_owned(), v)))
        .collect();
    let mut input = crate::domain::fields::Input::new(&promote_body);
    let promote_winner = input.boolean("promote_winner", false).unwrap_or(false);
    let promote_arm = input.string("promote_arm", false, experiment_draft::MAX_ARM_NAME);
    let mut errors = input.errors;
    if current.status != ExperimentStatus::Draft {
        for key in DRAFT_ONLY {
            if patch
                .get(key)
                .is_some_and(|v| Some(v) != current.resource.get(key))
            {
                errors.add(
                    key,
                    format!(
                        "The {} field can only change while the experiment is a draft.",
                        key.replace('_', " ")
                    ),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    let body = merge_patch(experiment_draft::as_body(&current.resource), &patch);
    let draft = if current.status == ExperimentStatus::Draft {
        parse_experiment(&body, &*catalog, &catalog.settings)
    } else {
        parse_experiment(&body, &FrozenArms, &catalog.settings)
    }
    .map_err(Failure::Invalid)?;
    if !current.status.can_become(draft.status) {
        return Err(Failure::Invalid(ValidationErrors::single(
            "status",
            format!(
                "The status cannot change from {} to {}.",
                current.status.as_str(),
                draft.status.as_str()
            ),
        )));
    }
    let starting =
        current.status != ExperimentStatus::Running && draft.status == ExperimentStatus::Running;
    if starting {
        let conflicts = start_conflicts(&catalog, Some(experiment_id), &draft);
        if !conflicts.is_empty() {
            return Err(Failure::Invalid(conflicts));
        }
    }
    let promotion = if promote_winner || promote_arm.is_some() {
        Some(plan_promotion(&db, current, &draft, promote_winner, promote_arm.as_deref()).await?)
    } else {
        None
    };
    let now = Utc::now();
    let mut row = experiments::draft_to_row(&draft);
    row.id = Set(experiment_id);
    row.updated_at = Set(now);
    if starting {
        row.experiment_only_offer_ids = Set(Some(experiment_only(&catalog, &draft)));
    }
    if let Some(promotion) = &promotion {
        row.promoted_arm = Set(Some(promotion.arm.clone()));
    }
    experiments::stamp(&mut row, current.status, draft.status, now);
    let saved = experiments::save(&db, organization_id, row, promotion.as_ref()).await?;
    let mut resource = CatalogExperiment::from_row(saved)?.resource;
    if let (Some(promotion), Some(fields)) = (&promotion, resource.as_object_mut()) {
        fields.insert("promotion".into(), promotion.to_json());
    }
    Ok(resource)
}

/// Which arm a stopping experiment promotes: the named one, or the verdict's winner (and
/// then only if there is one).
async fn plan_promotion(
    db: &DatabaseConnection,
    current: &CatalogExperiment,
    draft: &experiment_draft::ExperimentDraft,
    promote_winner: bool,
    promote_arm: Option<&str>,
) -> Result<Promotion, Failure> {
    let refuse =
        |field: &str, message: String| Failure::Invalid(ValidationErrors::single(field, message));
    let field = if promote_arm.is_some() {
        "promote_arm"
    } else {
        "promote_winner"
    };
    if draft.status != ExperimentStatus::Stopped {
        return Err(refuse(
            field,
            "Offers are promoted when the experiment stops: send status stopped with it.".into(),
        ));
    }
    if current.status == ExperimentStatus::Draft {
        return Err(refuse(
            field,
            "A draft never ran, so it has nothing to promote.".into(),
        ));
    }
    let name = match promote_arm {
        Some(name) => name.to_owned(),
        None => {
            debug_assert!(promote_winner);
            let figures = experiments::figures(db, current.id).await?;
            let (_, verdict) = experiments::results_json(current, &figures);
            match verdict.winner() {
                Some(winner) => winner.to_owned(),
                None => {
                    return Err(refuse(
                        field,
                        format!(
                            "There is no winner to promote ({}): {}",
                            verdict.text(),
                            verdict.reason()
                        ),
                    ))
                }
            }
        }
    };
    let arm = current
        .arms
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| refuse(field, "The selected promote arm is invalid.".into()))?;
    Ok(Promotion::plan(current, arm))
}

impl Handler<ManageExperiments> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageExperiments, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageExperiments::List { organization_id } => {
                guard_act(self.catalog(organization_id).map(|catalog, _, _| {
                    let data: Vec<Value> = catalog?
                        .experiments
                        .iter()
                        .map(|e| e.resource.clone())
                        .collect();
                    Ok(json!({ "data": data }))
                }))
            }
            ManageExperiments::Get {
                organization_id,
                experiment_id,
            } => guard_act(self.catalog(organization_id).map(move |catalog, _, _| {
                catalog?
                    .experiment(experiment_id)
                    .map(|e| e.resource.clone())
                    .ok_or_else(|| experiment_not_found(experiment_id))
            })),
            ManageExperiments::Results {
                organization_id,
                experiment_id,
            } => {
                let now = self.clock.now();
                guard_act(self.catalog(organization_id).then(move |catalog, _, _| {
                    fut::wrap_future(async move {
                        let catalog = catalog?;
                        let experiment = catalog
                            .experiment(experiment_id)
                            .ok_or_else(|| experiment_not_found(experiment_id))?;
                        let figures = experiments::figures(&db, experiment_id).await?;
                        let mut body = experiments::results_json(experiment, &figures).0;
                        let held = held_saves_by_arm(
                            &db,
                            organization_id,
                            experiment_id,
                            catalog.settings.save_validation_days,
                            now,
                        )
                        .await?;
                        add_held_saves(&mut body, &held);
                        Ok(body)
                    })
                }))
            }
            ManageExperiments::Create {
                organization_id,
                body,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            create_experiment(db, catalog?, organization_id, body).await
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
            ManageExperiments::Update {
                organization_id,
                experiment_id,
                patch,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            update_experiment(db, catalog?, organization_id, experiment_id, patch)
                                .await
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

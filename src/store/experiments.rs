//! Experiments: the cached form the OfferSelector keeps, storage, results and promotion.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{experiment, experiment_assignment, offer};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};
use serde_json::{json, Value};

use crate::domain::experiment::{self as assignment, Arm, ExperimentStatus};
use crate::domain::experiment_draft::ExperimentDraft;
use crate::domain::stats::{self, ArmCounts, Verdict, Z95};
use crate::domain::{Mrr, Trigger};

/// An experiment as the selector keeps it in memory.
#[derive(Debug, Clone)]
pub struct CatalogExperiment {
    pub id: i64,
    pub name: String,
    pub target_id: String,
    pub trigger: Option<Trigger>,
    pub status: ExperimentStatus,
    pub arms: Vec<Arm>,
    pub confidence: f64,
    pub min_sample_size: u32,
    /// Arm offers that were inactive when it started: shown only through the experiment.
    pub experiment_only_offer_ids: Vec<i64>,
    /// The experiment as its API shows it.
    pub resource: Value,
}

/// Where an intercept's offers came from: the experiment and the arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub experiment_id: i64,
    pub arm: String,
}

impl CatalogExperiment {
    pub fn from_row(row: experiment::Model) -> anyhow::Result<CatalogExperiment> {
        let status = ExperimentStatus::parse(&row.status).ok_or_else(|| {
            anyhow::anyhow!("experiment {} has unknown status {}", row.id, row.status)
        })?;
        let arms: Vec<Arm> = serde_json::from_str(&row.arms)
            .map_err(|e| anyhow::anyhow!("experiment {} has unreadable arms: {e}", row.id))?;
        let experiment_only_offer_ids: Vec<i64> = match &row.experiment_only_offer_ids {
            Some(raw) => serde_json::from_str(raw).map_err(|e| {
                anyhow::anyhow!("experiment {} has unreadable offer list: {e}", row.id)
            })?,
            None => Vec::new(),
        };
        let control_arm = arms.iter().find(|a| a.control).map(|a| a.name.clone());
        let resource = json!({
            "id": row.id,
            "name": row.name,
            "target_id": row.target_id,
            "trigger": row.trigger,
            "status": row.status,
            "arms": arms,
            "control_arm": control_arm,
            "confidence": row.confidence,
            "min_sample_size": row.min_sample_size,
            "promoted_arm": row.promoted_arm,
            "started_at": row.started_at.map(|t| t.to_rfc3339()),
            "stopped_at": row.stopped_at.map(|t| t.to_rfc3339()),
            "created_at": row.created_at.to_rfc3339(),
            "updated_at": row.updated_at.to_rfc3339(),
        });
        Ok(CatalogExperiment {
            id: row.id,
            name: row.name,
            target_id: row.target_id,
            trigger: row.trigger.as_deref().and_then(Trigger::parse),
            status,
            arms,
            confidence: row.confidence,
            min_sample_size: u32::try_from(row.min_sample_size).unwrap_or(1),
            experiment_only_offer_ids,
            resource,
        })
    }

    pub fn is_running(&self) -> bool {
        self.status == ExperimentStatus::Running
    }

    /// A running experiment applies to a call on its target; one limited to a trigger
    /// needs the call to state that trigger.
    pub fn applies_to(&self, target_id: &str, trigger: Option<Trigger>) -> bool {
        self.is_running()
            && self.target_id == target_id
            && self.trigger.is_none_or(|t| trigger == Some(t))
    }

    /// The arm of a known end user (deterministic), or of an anonymous call (random).
    pub fn assign(&self, end_user_id: Option<i64>) -> usize {
        match end_user_id {
            Some(id) => assignment::assign(self.id, id, &self.arms),
            None => assignment::assign_anonymous(&self.arms),
        }
    }

    /// What an offer shown from this arm carries as `experiment`.
    pub fn tag(&self, arm: usize) -> Value {
        json!({"id": self.id, "name": self.name, "arm": self.arms[arm].name})
    }

    pub fn arm_of_offer(&self, offer_id: i64) -> Option<usize> {
        self.arms
            .iter()
            .position(|a| a.offer_ids.contains(&offer_id))
    }

    pub fn offer_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.arms.iter().flat_map(|a| a.offer_ids.iter().copied())
    }

    pub fn exposure(&self, arm: usize) -> Exposure {
        Exposure {
            experiment_id: self.id,
            arm: self.arms[arm].name.clone(),
        }
    }
}

/// Whether two experiments could both apply to one call.
pub fn overlaps(a_target: &str, a_trigger: Option<Trigger>, b: &CatalogExperiment) -> bool {
    a_target == b.target_id
        && match (a_trigger, b.trigger) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// The arm a known end user was exposed to, if any.
#[tracing::instrument(skip(db))]
pub async fn assigned_arm(
    db: &DatabaseConnection,
    experiment_id: i64,
    end_user_id: i64,
) -> Result<Option<String>, DbErr> {
    experiment_assignment::Entity::find()
        .select_only()
        .column(experiment_assignment::Column::Arm)
        .filter(experiment_assignment::Column::ExperimentId.eq(experiment_id))
        .filter(experiment_assignment::Column::EndUserId.eq(end_user_id))
        .into_tuple::<String>()
        .one(db)
        .await
}

/// Fields of a stored experiment row from a valid draft.
pub fn draft_to_row(draft: &ExperimentDraft) -> experiment::ActiveModel {
    experiment::ActiveModel {
        name: Set(draft.name.clone()),
        target_id: Set(draft.target_id.clone()),
        trigger: Set(draft.trigger.map(|t| t.as_str().to_owned())),
        status: Set(draft.status.as_str().to_owned()),
        arms: Set(serde_json::to_string(&draft.arms).unwrap_or_else(|_| "[]".into())),
        confidence: Set(draft.confidence),
        min_sample_size: Set(i32::try_from(draft.min_sample_size).unwrap_or(i32::MAX)),
        ..Default::default()
    }
}

/// Promoting an arm when an experiment stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    pub arm: String,
    /// The arm's offers, now active.
    pub activated: Vec<i64>,
    /// Experiment-only offers of the other arms, now inactive.
    pub deactivated: Vec<i64>,
    /// Offers of the other arms that were live before the experiment: left as they are.
    pub kept: Vec<i64>,
}

impl Promotion {
    pub fn plan(experiment: &CatalogExperiment, arm: &Arm) -> Promotion {
        let mut deactivated = Vec::new();
        let mut kept = Vec::new();
        for other in experiment.arms.iter().filter(|a| a.name != arm.name) {
            for id in &other.offer_ids {
                if arm.offer_ids.contains(id) {
                    continue;
                }
                if experiment.experiment_only_offer_ids.contains(id) {
                    deactivated.push(*id);
                } else {
                    kept.push(*id);
                }
            }
        }
        Promotion {
            arm: arm.name.clone(),
            activated: arm.offer_ids.clone(),
            deactivated,
            kept,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"arm": self.arm, "activated": self.activated, "deactivated": self.deactivated, "kept": self.kept})
    }
}

/// Writes an experiment change, and a promotion's offer changes, in one transaction.
#[tracing::instrument(skip_all, fields(org = organization_id))]
pub async fn save(
    db: &DatabaseConnection,
    organization_id: i64,
    row: experiment::ActiveModel,
    promotion: Option<&Promotion>,
) -> Result<experiment::Model, DbErr> {
    let txn = db.begin().await?;
    let saved = if row.id.is_set() {
        row.update(&txn).await?
    } else {
        row.insert(&txn).await?
    };
    if let Some(promotion) = promotion {
        let now = Utc::now();
        for (ids, active) in [
            (&promotion.activated, true),
            (&promotion.deactivated, false),
        ] {
            if ids.is_empty() {
                continue;
            }
            offer::Entity::update_many()
                .col_expr(offer::Column::Active, Expr::value(active))
                .col_expr(offer::Column::UpdatedAt, Expr::value(now))
                .filter(offer::Column::OrganizationId.eq(organization_id))
                .filter(offer::Column::Id.is_in(ids.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(saved)
}

/// One arm's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmFigures {
    pub impressions: u64,
    pub exposures: u64,
    pub saves: u64,
    pub saved_mrr_e4: i64,
}

/// Counts per arm: impressions (intercept answers), exposures (assigned known end users,
/// plus anonymous calls), saves (exposed end users who saved at least once, plus anonymous
/// saves) and the MRR they saved (each saved end user once, at the largest MRR reported),
/// from the experiment's rollups (`store::analytics`).
#[tracing::instrument(skip(db))]
pub async fn figures(
    db: &DatabaseConnection,
    experiment_id: i64,
) -> Result<HashMap<String, ArmFigures>, DbErr> {
    let mut arms: HashMap<String, ArmFigures> = HashMap::new();
    for (arm, impressions, exposures, saves, mrr) in
        super::analytics::experiment_rows(db, experiment_id).await?
    {
        arms.insert(
            arm,
            ArmFigures {
                impressions: impressions.max(0) as u64,
                exposures: exposures.max(0) as u64,
                saves: saves.max(0) as u64,
                saved_mrr_e4: mrr,
            },
        );
    }
    Ok(arms)
}

fn interval_json(interval: Option<(f64, f64)>) -> Value {
    interval.map_or(Value::Null, |(low, high)| json!({"low": low, "high": high}))
}

/// `GET /api/v1/experiments/{id}/results` from the experiment and its figures.
pub fn results_json(
    experiment: &CatalogExperiment,
    figures: &HashMap<String, ArmFigures>,
) -> (Value, Verdict) {
    let of = |arm: &Arm| figures.get(&arm.name).cloned().unwrap_or_default();
    let counts: Vec<ArmCounts> = experiment
        .arms
        .iter()
        .map(|arm| {
            let f = of(arm);
            ArmCounts {
                name: arm.name.clone(),
                control: arm.control,
                exposures: f.exposures,
                // A save without an exposure (an anonymous outcome) cannot lift a rate above 1.
                saves: f.saves.min(f.exposures),
            }
        })
        .collect();
    let control = experiment
        .arms
        .iter()
        .find(|a| a.control)
        .map(of)
        .unwrap_or_default();
    let variants = experiment.arms.iter().filter(|a| !a.control).count();
    let alpha = stats::corrected_alpha(experiment.confidence, variants);
    let arms: Vec<Value> = experiment
        .arms
        .iter()
        .map(|arm| {
            let f = of(arm);
            let saves = f.saves.min(f.exposures);
            let rate = (f.exposures > 0).then(|| saves as f64 / f.exposures as f64);
            let versus = if arm.control {
                Value::Null
            } else {
                stats::compare(
                    control.saves.min(control.exposures),
                    control.exposures,
                    saves,
                    f.exposures,
                )
                .map_or(Value::Null, |c| {
                    json!({
                        "difference": c.difference,
                        "difference_interval": interval_json(Some(c.interval)),
                        "z": c.z,
                        "p_value": c.p_value,
                        "significant": c.p_value < alpha,
                    })
                })
            };
            json!({
                "name": arm.name,
                "control": arm.control,
                "weight": arm.weight,
                "offer_ids": arm.offer_ids,
                "impressions": f.impressions,
                "exposures": f.exposures,
                "saves": saves,
                "save_rate": rate,
                "save_rate_interval": interval_json(stats::wilson(saves, f.exposures, Z95)),
                "saved_mrr": Mrr::from_storage(f.saved_mrr_e4).to_json(),
                "vs_control": versus,
            })
        })
        .collect();
    let verdict = stats::verdict(
        &counts,
        experiment.confidence,
        u64::from(experiment.min_sample_size),
    );
    let body = json!({
        "experiment": {"id": experiment.id, "name": experiment.name, "status": experiment.status.as_str()},
        "confidence": experiment.confidence,
        "min_sample_size": experiment.min_sample_size,
        // Rounded: 1 − 0.95 is 0.050000000000000044 in binary floating point.
        "alpha": (alpha * 1e12).round() / 1e12,
        "arms": arms,
        "verdict": verdict.text(),
        "winner": verdict.winner(),
        "verdict_reason": verdict.reason(),
    });
    (body, verdict)
}

/// Marks a row as just started or stopped.
pub fn stamp(
    row: &mut experiment::ActiveModel,
    from: ExperimentStatus,
    to: ExperimentStatus,
    now: DateTime<Utc>,
) {
    if from != ExperimentStatus::Running && to == ExperimentStatus::Running {
        row.started_at = Set(Some(now));
    }
    if from != ExperimentStatus::Stopped && to == ExperimentStatus::Stopped {
        row.stopped_at = Set(Some(now));
    }
}

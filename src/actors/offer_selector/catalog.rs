//! The catalog: an organization's offers, experiments and settings as the selector keeps
//! them in memory, indexed for intercept, and how they are loaded from the database.
use std::collections::HashMap;
use std::sync::Arc;

use entity::{experiment, offer, organization_setting};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::actors::Failure;
use crate::domain::eligibility::{self, OfferRules, OrgSettings};
use crate::domain::experiment::ExperimentStatus;
use crate::domain::experiment_draft::{OfferCheck, OfferProblem};
use crate::domain::offer::{number_json, Placement};
use crate::domain::offer_draft::mrr_json;
use crate::domain::{Mrr, OfferType, Trigger};
use crate::store::experiments::CatalogExperiment;

/// An offer as the selector keeps it in memory. The offers API's and intercept's JSON are
/// built when asked (intercept's as text, once): a catalog of 1,000 offers holding both as
/// JSON values took ~7 MB.
#[derive(Debug, Clone)]
pub struct CatalogOffer {
    pub id: i64,
    pub kind: OfferType,
    pub value: f64,
    pub config: Value,
    pub placement: Placement,
    pub active: bool,
    pub rules: OfferRules,
    /// The offer as intercept shows it, as JSON text up to (not including) its last field,
    /// `experiment`: intercept writes its answer from these without building JSON values.
    shown_head: String,
    row: offer::Model,
}

fn stored_rule(value: Option<i32>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok())
}

impl CatalogOffer {
    pub(super) fn from_row(row: offer::Model) -> Result<CatalogOffer, Failure> {
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
        let rules = OfferRules {
            cooldown_days: stored_rule(row.cooldown_days),
            type_cooldown_days: stored_rule(row.type_cooldown_days),
            max_redemptions: stored_rule(row.max_redemptions),
            max_redemptions_per_user: stored_rule(row.max_redemptions_per_user),
            requires_subscription: row.requires_subscription,
        };
        let mut offer = CatalogOffer {
            id: row.id,
            kind,
            value: row.value,
            config,
            placement,
            active: row.active,
            rules,
            shown_head: String::new(),
            row,
        };
        let mut shown_head = offer.shown().to_string();
        debug_assert!(shown_head.ends_with('}'));
        shown_head.pop();
        offer.shown_head = shown_head;
        Ok(offer)
    }

    /// The offer as the offers API shows it.
    pub fn resource(&self) -> Value {
        let row = &self.row;
        // Read once already, when the catalog was loaded.
        let triggers: Vec<String> = serde_json::from_str(&row.triggers).unwrap_or_default();
        json!({
            "id": row.id,
            "type": row.kind,
            "value": number_json(row.value),
            "label": row.label,
            "config": self.config,
            "target_id": row.target_id,
            "triggers": triggers,
            "min_mrr": mrr_json(self.placement.min_mrr),
            "max_mrr": mrr_json(self.placement.max_mrr),
            "priority": row.priority,
            "active": row.active,
            "cooldown_days": self.rules.cooldown_days,
            "type_cooldown_days": self.rules.type_cooldown_days,
            "max_redemptions": self.rules.max_redemptions,
            "max_redemptions_per_user": self.rules.max_redemptions_per_user,
            "requires_subscription": self.rules.requires_subscription,
            "created_at": row.created_at.to_rfc3339(),
            "updated_at": row.updated_at.to_rfc3339(),
        })
    }

    /// Appends the offer as intercept shows it (JSON text), with its experiment tag (JSON
    /// text, `null` when none).
    fn write_shown(&self, out: &mut String, experiment: &str) {
        out.push_str(&self.shown_head);
        out.push_str(r#","experiment":"#);
        out.push_str(experiment);
        out.push('}');
    }

    /// The offer as intercept shows it, but for the experiment it came from (`write_shown`
    /// adds that last).
    fn shown(&self) -> Value {
        json!({
            "id": self.row.id,
            "type": self.row.kind,
            "value": number_json(self.row.value),
            "label": self.row.label,
            "config": self.config,
        })
    }
}

/// The offers as intercept and sentiment show them: a JSON array (text), written around
/// each offer's text rendered once per catalog load rather than rebuilt as values.
pub(super) fn shown_list(offers: &[&CatalogOffer], experiment: Option<&Value>) -> String {
    let tag = experiment.map_or_else(|| "null".to_owned(), Value::to_string);
    let mut list = String::with_capacity(
        2 + offers
            .iter()
            .map(|o| o.shown_head.len() + 20 + tag.len())
            .sum::<usize>(),
    );
    list.push('[');
    for (n, offer) in offers.iter().enumerate() {
        if n > 0 {
            list.push(',');
        }
        offer.write_shown(&mut list, &tag);
    }
    list.push(']');
    list
}

/// One organization's offers (highest priority first, then oldest first), experiments and
/// settings.
#[derive(Debug, Default)]
pub struct CatalogData {
    pub offers: Vec<CatalogOffer>,
    pub experiments: Vec<CatalogExperiment>,
    pub settings: OrgSettings,
    pub(super) positions: HashMap<i64, usize>,
    /// Positions of the active offers, by target, and of those with no target (which fit
    /// every target), in catalog order: intercept looks only at the offers that can fit
    /// its page, however many other pages the organization has offers for.
    active_by_target: HashMap<String, Vec<usize>>,
    active_untargeted: Vec<usize>,
}

impl CatalogData {
    pub fn offer(&self, id: i64) -> Option<&CatalogOffer> {
        self.positions.get(&id).map(|i| &self.offers[*i])
    }

    pub fn experiment(&self, id: i64) -> Option<&CatalogExperiment> {
        self.experiments.iter().find(|e| e.id == id)
    }

    fn new(
        offers: Vec<CatalogOffer>,
        experiments: Vec<CatalogExperiment>,
        settings: OrgSettings,
    ) -> Self {
        let positions = offers.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
        let mut active_by_target: HashMap<String, Vec<usize>> = HashMap::new();
        let mut active_untargeted = Vec::new();
        for (i, offer) in offers.iter().enumerate().filter(|(_, o)| o.active) {
            match &offer.placement.target_id {
                Some(target) => active_by_target.entry(target.clone()).or_default().push(i),
                None => active_untargeted.push(i),
            }
        }
        CatalogData {
            offers,
            experiments,
            settings,
            positions,
            active_by_target,
            active_untargeted,
        }
    }

    /// Positions of the active offers that may show on `target_id`, in catalog order.
    pub(super) fn active_on(&self, target_id: &str) -> Vec<usize> {
        let own = self
            .active_by_target
            .get(target_id)
            .map_or(&[][..], Vec::as_slice);
        let mut merged = [own, &self.active_untargeted].concat();
        merged.sort_unstable();
        merged
    }

    pub(super) fn kind_of(&self, offer_id: i64) -> Option<OfferType> {
        self.offer(offer_id).map(|o| o.kind)
    }

    /// The running experiment an offer is in, with its arm (an offer is in at most one
    /// running experiment, and in one arm of it).
    pub(super) fn running_with_offer(&self, offer_id: i64) -> Option<(&CatalogExperiment, usize)> {
        self.experiments
            .iter()
            .filter(|e| e.is_running())
            .find_map(|e| e.arm_of_offer(offer_id).map(|arm| (e, arm)))
    }

    /// Draft or running experiments that use an offer.
    pub(super) fn live_experiment_with_offer(&self, offer_id: i64) -> Option<&CatalogExperiment> {
        self.experiments
            .iter()
            .filter(|e| e.status != ExperimentStatus::Stopped)
            .find(|e| e.arm_of_offer(offer_id).is_some())
    }
}

impl OfferCheck for CatalogData {
    fn check(&self, offer_id: i64, target_id: Option<&str>) -> Result<(), OfferProblem> {
        let offer = self.offer(offer_id).ok_or(OfferProblem::Unknown)?;
        match (&offer.placement.target_id, target_id) {
            (Some(own), Some(wanted)) if own != wanted => {
                Err(OfferProblem::OtherTarget(own.clone()))
            }
            _ => Ok(()),
        }
    }
}

pub(super) type Catalog = Arc<CatalogData>;

#[tracing::instrument(skip(db))]
pub(super) async fn load_catalog(
    db: DatabaseConnection,
    organization_id: i64,
) -> Result<Catalog, Failure> {
    let offers = offer::Entity::find()
        .filter(offer::Column::OrganizationId.eq(organization_id))
        .order_by_desc(offer::Column::Priority)
        .order_by_asc(offer::Column::Id)
        .all(&db);
    let experiments = experiment::Entity::find()
        .filter(experiment::Column::OrganizationId.eq(organization_id))
        .order_by_asc(experiment::Column::Id)
        .all(&db);
    let settings = organization_setting::Entity::find_by_id(organization_id).one(&db);
    let (offers, experiments, settings) =
        futures_util::future::try_join3(offers, experiments, settings).await?;
    let offers = offers
        .into_iter()
        .map(CatalogOffer::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let experiments = experiments
        .into_iter()
        .map(CatalogExperiment::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(CatalogData::new(
        offers,
        experiments,
        settings.map(settings_from_row).unwrap_or_default(),
    )))
}

fn settings_from_row(row: organization_setting::Model) -> OrgSettings {
    OrgSettings {
        offer_cooldown_days: stored_rule(row.offer_cooldown_days),
        type_cooldown_days: stored_rule(row.type_cooldown_days),
        max_redemptions_per_user: stored_rule(row.max_redemptions_per_user),
        require_subscription_for_changes: row.require_subscription_for_changes,
        experiment_confidence: row.experiment_confidence,
        experiment_min_sample_size: stored_rule(Some(row.experiment_min_sample_size))
            .unwrap_or(eligibility::DEFAULT_MIN_SAMPLE_SIZE),
        allowed_origins: stored_origins(row.organization_id, row.allowed_origins.as_deref()),
        save_validation_days: stored_rule(row.save_validation_days)
            .unwrap_or(eligibility::DEFAULT_SAVE_VALIDATION_DAYS),
    }
}

/// The stored JSON array of allowed origins. An unreadable one allows no origin (browsers
/// are refused, server-to-server calls go on) and is logged, rather than failing the
/// organization's whole catalog.
fn stored_origins(organization_id: i64, stored: Option<&str>) -> Vec<String> {
    let Some(text) = stored else {
        return Vec::new();
    };
    serde_json::from_str(text).unwrap_or_else(|error| {
        tracing::warn!(
            organization_id,
            %error,
            "unreadable allowed_origins in the organization's settings: no origin is allowed"
        );
        Vec::new()
    })
}

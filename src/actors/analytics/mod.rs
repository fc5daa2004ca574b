//! Analytics: what an organization's cancel flow saved over a period, read from the rollups
//! that the writes keep current (`store::analytics`, migration
//! `m20261207_000001_analytics_rollups`): whole UTC days from the rollups, partial edge days
//! from the rows of those hours. No table is loaded into memory.
//!
//! Rules (see the README), applied when the rows are written:
//! - Impressions are intercept answers, counted as they are.
//! - Saves and abandons are counted once per end user and offer: an applied offer writes a
//!   `saved` outcome (source `apply_offer`) and the client may also post `saved` for the same
//!   end user and offer; that pair is one save, dated by its first row, with the larger MRR
//!   of its rows (`first_outcomes`). Outcomes without an end user cannot be matched and each
//!   count.
//! - An outcome is attributed to a target and trigger by the end user's latest impression at
//!   or before it, at most 24 hours before it; without one, the offer's own target (trigger
//!   unknown). Decided when the outcome is written, and stored on its row.
//! - Dunning: end users whose dunning episode started in the period; recovered when a payment
//!   success closed that episode (at any time since).
//! - Save validation: the period's saves weighed against Stripe's cancellations
//!   (`super::save_validation`).
use crate::actors::guard;
use std::collections::{BTreeMap, HashMap};

use actix::prelude::*;
use chrono::{DateTime, Duration as TimeDelta, NaiveDate, Utc};
use entity::offer;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Value as DbValue,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::save_validation::{validate_saves, SaveValidation};
use super::Failure;
use crate::clock::Clock;
use crate::domain::Mrr;
use crate::store::analytics::{self, pieces, Breakdown, Dimension, ReasonCount};
use queries::{statement, DUNNING_SQL};

mod queries;

pub struct Analytics {
    db: DatabaseConnection,
    clock: Clock,
    /// `sentiment.ticket_min_confidence`: reasons read below it count as low confidence.
    ticket_min_confidence: f64,
}

impl Analytics {
    pub fn new(db: DatabaseConnection, clock: Clock, ticket_min_confidence: f64) -> Self {
        Analytics {
            db,
            clock,
            ticket_min_confidence,
        }
    }
}

impl Actor for Analytics {
    type Context = Context<Self>;
}

/// The period and filter of a summary: `[from, until)`.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub until: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "Result<Summary, Failure>")]
pub struct Summarize {
    pub organization_id: i64,
    pub period: Period,
    pub target_id: Option<String>,
}

/// Figures of one slice (the whole period, one offer, one target, one trigger or one day).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Figures {
    pub impressions: u64,
    pub saves: u64,
    pub abandons: u64,
    /// saves / (saves + abandons), rounded to 4 places; null without decisions.
    pub save_rate: Option<f64>,
    /// Sum of the saves' MRR, in currency units.
    #[schema(value_type = f64)]
    pub saved_mrr: Value,
    #[serde(skip)]
    saved_mrr_e4: i64,
}

impl Figures {
    fn finish(mut self) -> Figures {
        let decisions = self.saves + self.abandons;
        self.save_rate = (decisions > 0)
            .then(|| (self.saves as f64 / decisions as f64 * 10_000.0).round() / 10_000.0);
        self.saved_mrr = Mrr::from_storage(self.saved_mrr_e4).to_json();
        self
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferFigures {
    pub offer_id: i64,
    pub label: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetFigures {
    pub target_id: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TriggerFigures {
    pub trigger: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayFigures {
    pub date: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Count {
    pub value: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ReasonFigures {
    pub total: u64,
    /// Reasons the model read at a confidence below `sentiment.ticket_min_confidence`
    /// (guesses: a `support` one among them opened no ticket).
    pub low_confidence: u64,
    pub by_suggested_action: Vec<Count>,
    pub by_category: Vec<Count>,
    /// By the language the reason is written in ("en", "de", "fr", "es"; null for reasons
    /// read before languages were detected).
    pub by_language: Vec<Count>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DunningFigures {
    /// End users whose dunning episode started in the period.
    pub flagged: u64,
    /// Of those, the ones a payment success recovered.
    pub recovered: u64,
    /// recovered / flagged, rounded to 4 places; null when none was flagged.
    pub recovery_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    /// The period is `[from, until)`.
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub target_id: Option<String>,
    #[serde(flatten)]
    pub totals: Figures,
    pub by_offer: Vec<OfferFigures>,
    pub by_target: Vec<TargetFigures>,
    pub by_trigger: Vec<TriggerFigures>,
    pub by_day: Vec<DayFigures>,
    pub cancellation_reasons: ReasonFigures,
    pub dunning: DunningFigures,
    /// Whether the period's saves of known end users lasted (Stripe's events tell).
    pub save_validation: SaveValidation,
}

/// The dunning row: how many end users were flagged, how many recovered.
async fn dunning(db: &DatabaseConnection, values: Vec<DbValue>) -> Result<(u64, u64), Failure> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(statement(backend, DUNNING_SQL, values))
        .await?;
    Ok(match row {
        Some(r) => (
            to_count(r.try_get_by_index::<i64>(3)?),
            to_count(r.try_get_by_index::<i64>(4)?),
        ),
        None => (0, 0),
    })
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

fn to_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Adds a breakdown row's figures.
fn absorb(figures: &mut Figures, row: &Breakdown) {
    figures.impressions += to_count(row.impressions);
    figures.saves += to_count(row.saves);
    figures.saved_mrr_e4 += row.saved_mrr_e4;
    figures.abandons += to_count(row.abandons);
}

async fn summarize(
    db: DatabaseConnection,
    msg: Summarize,
    now: DateTime<Utc>,
    ticket_min_confidence: f64,
) -> Result<Summary, Failure> {
    let org = msg.organization_id;
    let target = msg.target_id.as_deref();
    let parts = pieces(msg.period.from, msg.period.until, false);
    let mut totals = Figures::default();
    let mut offers: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut targets: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    let mut triggers: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    let mut days: BTreeMap<String, Figures> = BTreeMap::new();
    let mut reason_counts = Vec::new();
    for piece in &parts {
        for row in analytics::breakdown(&db, org, piece, target).await? {
            // A rollup row whose record moved to another day or key may be left at zero.
            let empty = row.impressions == 0
                && row.saves == 0
                && row.abandons == 0
                && row.saved_mrr_e4 == 0;
            if empty {
                continue;
            }
            match row.dimension {
                Dimension::Offer => {
                    if let Some(id) = row.key.as_deref().and_then(|k| k.parse::<i64>().ok()) {
                        absorb(offers.entry(id).or_default(), &row);
                    }
                }
                Dimension::Target => absorb(targets.entry(row.key.clone()).or_default(), &row),
                Dimension::Trigger => absorb(triggers.entry(row.key.clone()).or_default(), &row),
                Dimension::Day => {
                    absorb(&mut totals, &row);
                    if let Some(day) = &row.key {
                        absorb(days.entry(day.clone()).or_default(), &row);
                    }
                }
            }
        }
        reason_counts
            .extend(analytics::reasons(&db, org, piece, target, ticket_min_confidence).await?);
    }
    // Every day of the period appears, zero or not.
    let first = msg.period.from.date_naive();
    let last = (msg.period.until - TimeDelta::microseconds(1)).date_naive();
    let mut day = first;
    while day <= last {
        days.entry(day.format("%Y-%m-%d").to_string()).or_default();
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }

    let offer_ids: Vec<i64> = offers.keys().copied().collect();
    let known: HashMap<i64, offer::Model> = if offer_ids.is_empty() {
        HashMap::new()
    } else {
        offer::Entity::find()
            .filter(offer::Column::OrganizationId.eq(org))
            .filter(offer::Column::Id.is_in(offer_ids))
            .all(&db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };

    let period_values: Vec<DbValue> =
        vec![org.into(), msg.period.from.into(), msg.period.until.into()];
    let (flagged, recovered) = dunning(&db, period_values).await?;
    let reasons = reason_figures(reason_counts);

    let save_validation = validate_saves(&db, org, msg.period.from, msg.period.until, now).await?;
    Ok(Summary {
        save_validation,
        from: msg.period.from,
        until: msg.period.until,
        target_id: msg.target_id,
        totals: totals.finish(),
        by_offer: offers
            .into_iter()
            .map(|(offer_id, figures)| OfferFigures {
                offer_id,
                label: known.get(&offer_id).map(|o| o.label.clone()),
                kind: known.get(&offer_id).map(|o| o.kind.clone()),
                figures: figures.finish(),
            })
            .collect(),
        by_target: targets
            .into_iter()
            .map(|(target_id, figures)| TargetFigures {
                target_id,
                figures: figures.finish(),
            })
            .collect(),
        by_trigger: triggers
            .into_iter()
            .map(|(trigger, figures)| TriggerFigures {
                trigger,
                figures: figures.finish(),
            })
            .collect(),
        by_day: days
            .into_iter()
            .map(|(date, figures)| DayFigures {
                date,
                figures: figures.finish(),
            })
            .collect(),
        cancellation_reasons: reasons,
        dunning: DunningFigures {
            flagged,
            recovered,
            recovery_rate: rate(recovered, flagged),
        },
    })
}

/// Reasons by suggested action, category and language, most frequent first.
fn reason_figures(counts: Vec<ReasonCount>) -> ReasonFigures {
    let mut reasons = ReasonFigures::default();
    let mut actions: BTreeMap<Option<String>, u64> = BTreeMap::new();
    let mut categories: BTreeMap<Option<String>, u64> = BTreeMap::new();
    let mut languages: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for c in counts {
        let n = to_count(c.reasons);
        reasons.total += n;
        reasons.low_confidence += to_count(c.low_confidence);
        *actions.entry(c.suggested_action).or_default() += n;
        *categories.entry(c.category).or_default() += n;
        *languages.entry(c.language).or_default() += n;
    }
    for (list, counted) in [
        (&mut reasons.by_suggested_action, actions),
        (&mut reasons.by_category, categories),
        (&mut reasons.by_language, languages),
    ] {
        *list = counted
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(value, count)| Count { value, count })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    }
    reasons
}

impl Handler<Summarize> for Analytics {
    type Result = ResponseFuture<Result<Summary, Failure>>;

    fn handle(&mut self, msg: Summarize, _: &mut Self::Context) -> Self::Result {
        guard(summarize(
            self.db.clone(),
            msg,
            self.clock.now(),
            self.ticket_min_confidence,
        ))
    }
}

/// The end of a period whose `to` is not given: the end of the clock's UTC day, so that the
/// default period (the last 30 days, today included) is whole days, read from the rollups
/// alone. Nothing is recorded after now, so today's rollup holds today's records so far.
pub fn end_of_today(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow.and_hms_opt(0, 0, 0).map_or(now, |at| at.and_utc())
}

/// Parses a period bound: RFC 3339, or `YYYY-MM-DD` (a UTC day). Both bounds are inclusive:
/// as the end (`end = true`) the answer is the exclusive instant just after `raw`, i.e. the
/// next midnight for a day, or one microsecond (the databases' precision) later.
pub fn parse_bound(raw: &str, end: bool) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        let at = at.with_timezone(&Utc);
        return if end {
            at.checked_add_signed(TimeDelta::microseconds(1))
        } else {
            Some(at)
        };
    }
    if raw.len() != 10 {
        return None;
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let day = if end { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

//! Analytics: what an organization's cancel flow saved over a period, answered by aggregate
//! SQL (GROUP BY over indexed columns) on SQLite and PostgreSQL alike; no table is loaded
//! into memory.
//!
//! Rules (see the README):
//! - Impressions are intercept answers, counted as they are.
//! - Saves and abandons are counted once per end user and offer: an applied offer writes a
//!   `saved` outcome (source `apply_offer`) and the client may also post `saved` for the same
//!   end user and offer; that pair is one save, dated by its first row, with the larger MRR
//!   of its rows. Outcomes without an end user cannot be matched and each count.
//! - An outcome is attributed to a target and trigger by the end user's latest impression at
//!   or before it, at most `ATTRIBUTION_WINDOW_HOURS` before it; without one, the offer's own
//!   target (trigger unknown).
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
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter,
    Value as DbValue,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::save_validation::{validate_saves, SaveValidation};
use super::Failure;
use crate::clock::Clock;
use crate::domain::Mrr;
use queries::{impressions_sql, outcomes_sql, reasons_sql, statement, DUNNING_SQL};

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

/// One aggregated row: which breakdown, which key, which status, how many, how much MRR.
struct Row {
    dimension: String,
    key: Option<String>,
    status: Option<String>,
    count: i64,
    mrr_e4: i64,
}

async fn rows(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<DbValue>,
) -> Result<Vec<Row>, Failure> {
    let backend = db.get_database_backend();
    let result = db.query_all_raw(statement(backend, sql, values)).await?;
    result
        .iter()
        .map(|r| {
            Ok(Row {
                dimension: r.try_get_by_index(0)?,
                key: r.try_get_by_index(1)?,
                status: r.try_get_by_index(2)?,
                count: r.try_get_by_index(3)?,
                mrr_e4: r.try_get_by_index(4)?,
            })
        })
        .collect::<Result<Vec<Row>, sea_orm::DbErr>>()
        .map_err(Failure::from)
}

/// How far back from an outcome its end user's intercept is looked for. A cancel flow's
/// intercept and outcome come minutes apart; bounding the look-back lets attribution read
/// impressions by time (the index writes already maintain) instead of needing a per-end-user
/// index that every intercept would have to update at a random place.
const ATTRIBUTION_WINDOW_HOURS: u32 = 24;

/// Whether a table exists (the cancellation reasons table comes with the sentiment feature).
async fn table_exists(db: &DatabaseConnection, table: &str) -> Result<bool, Failure> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
    };
    let row = db
        .query_one_raw(statement(backend, sql, vec![table.into()]))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

fn to_count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Adds an aggregated row to its slice.
fn absorb(figures: &mut Figures, row: &Row) {
    match row.status.as_deref() {
        Some("saved") => {
            figures.saves += to_count(row.count);
            figures.saved_mrr_e4 += row.mrr_e4;
        }
        Some("abandoned") => figures.abandons += to_count(row.count),
        Some(_) => {}
        None => figures.impressions += to_count(row.count),
    }
}

async fn summarize(
    db: DatabaseConnection,
    msg: Summarize,
    now: DateTime<Utc>,
    ticket_min_confidence: f64,
) -> Result<Summary, Failure> {
    let backend = db.get_database_backend();
    let by_target = msg.target_id.is_some();
    let mut values: Vec<DbValue> = vec![
        msg.organization_id.into(),
        msg.period.from.into(),
        msg.period.until.into(),
    ];
    if let Some(target) = &msg.target_id {
        values.push(target.clone().into());
    }
    let mut all = rows(&db, &outcomes_sql(backend, by_target), values.clone()).await?;
    all.extend(rows(&db, &impressions_sql(backend, by_target), values.clone()).await?);

    let mut totals = Figures::default();
    let mut offers: BTreeMap<i64, Figures> = BTreeMap::new();
    let mut targets: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    let mut triggers: BTreeMap<Option<String>, Figures> = BTreeMap::new();
    let mut days: BTreeMap<String, Figures> = BTreeMap::new();
    for row in &all {
        match row.dimension.as_str() {
            "total" => absorb(&mut totals, row),
            "offer" => {
                if let Some(id) = row.key.as_deref().and_then(|k| k.parse::<i64>().ok()) {
                    absorb(offers.entry(id).or_default(), row);
                }
            }
            "target" => absorb(targets.entry(row.key.clone()).or_default(), row),
            "trigger" => absorb(triggers.entry(row.key.clone()).or_default(), row),
            "day" => {
                if let Some(day) = &row.key {
                    absorb(days.entry(day.clone()).or_default(), row);
                }
            }
            _ => {}
        }
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
            .filter(offer::Column::OrganizationId.eq(msg.organization_id))
            .filter(offer::Column::Id.is_in(offer_ids))
            .all(&db)
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect()
    };

    let period_values = values[..3].to_vec();
    let dunning = rows(&db, DUNNING_SQL, period_values).await?;
    let (flagged, recovered) = dunning
        .first()
        .map_or((0, 0), |r| (to_count(r.count), to_count(r.mrr_e4)));

    let mut reasons = ReasonFigures::default();
    if table_exists(&db, "cancellation_reasons").await? {
        let mut values = values;
        values.push(ticket_min_confidence.into());
        for row in rows(&db, &reasons_sql(by_target), values).await? {
            let count = Count {
                value: row.key.clone(),
                count: to_count(row.count),
            };
            match row.dimension.as_str() {
                "total" => reasons.total = count.count,
                "low_confidence" => reasons.low_confidence = count.count,
                "action" => reasons.by_suggested_action.push(count),
                "category" => reasons.by_category.push(count),
                "language" => reasons.by_language.push(count),
                _ => {}
            }
        }
        for list in [
            &mut reasons.by_suggested_action,
            &mut reasons.by_category,
            &mut reasons.by_language,
        ] {
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        }
    }

    let save_validation = validate_saves(
        &db,
        msg.organization_id,
        msg.period.from,
        msg.period.until,
        now,
    )
    .await?;
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

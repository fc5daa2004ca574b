//! The analytics rollups (tables of migration `m20261207_000001_analytics_rollups`, kept
//! current by the statements that write the rows): what the summary and experiment results
//! read. A period is cut into whole UTC days, read from the rollups, and at most two partial
//! days at its edges, read from the rows of those hours alone (`Piece`). Rebuilding them from
//! the rows is `rebuild`.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

mod rebuild;

pub use rebuild::{rebuild, set_confidence_bar};

/// `$n` placeholders for PostgreSQL, `?n` for SQLite.
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A stored `''` is a missing target, trigger, category or language.
fn text_key(raw: String) -> Option<String> {
    (!raw.is_empty()).then_some(raw)
}

/// A part of a period: whole UTC days `[from, until)`, read from the rollups, or part of one
/// day, read from its rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Days(NaiveDate, NaiveDate),
    Partial {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        /// Whether `until` itself belongs to it.
        inclusive: bool,
    },
}

/// Cuts `[from, until)` (or `[from, until]`) into whole days and partial edge days.
pub fn pieces(from: DateTime<Utc>, until: DateTime<Utc>, inclusive: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    if from > until || (from == until && !inclusive) {
        return out;
    }
    let start_day = from.date_naive();
    let first_whole = if from == midnight(start_day) {
        start_day
    } else {
        start_day + Duration::days(1)
    };
    let end_day = until.date_naive();
    let end_midnight = midnight(end_day);
    if first_whole > end_day {
        out.push(Piece::Partial {
            from,
            until,
            inclusive,
        });
        return out;
    }
    if from != midnight(start_day) {
        out.push(Piece::Partial {
            from,
            until: midnight(first_whole),
            inclusive: false,
        });
    }
    if first_whole < end_day {
        out.push(Piece::Days(first_whole, end_day));
    }
    if until != end_midnight || inclusive {
        out.push(Piece::Partial {
            from: end_midnight,
            until,
            inclusive,
        });
    }
    out
}

/// The bounds of a piece as values, and the SQL that compares `column` with `$a` and `$b`.
fn bounds(piece: &Piece, column: &str, a: usize, b: usize) -> (Vec<Value>, String) {
    match piece {
        Piece::Days(from, until) => (
            vec![day_text(*from).into(), day_text(*until).into()],
            format!("day >= ${a} AND day < ${b}"),
        ),
        Piece::Partial {
            from,
            until,
            inclusive,
        } => {
            let op = if *inclusive { "<=" } else { "<" };
            (
                vec![(*from).into(), (*until).into()],
                format!("{column} >= ${a} AND {column} {op} ${b}"),
            )
        }
    }
}

fn day_of(backend: DatabaseBackend, column: &str) -> String {
    migration::analytics_rollups::day_of(backend, column)
}

/// Which breakdown a row of `breakdown` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Offer,
    Target,
    Trigger,
    Day,
}

/// One row of a breakdown: its key (an offer id, a target, a trigger or a day) and figures.
/// Impressions are the intercept answers, per offer the answers that showed it.
#[derive(Debug, Clone)]
pub struct Breakdown {
    pub dimension: Dimension,
    pub key: Option<String>,
    pub impressions: i64,
    pub saves: i64,
    pub saved_mrr_e4: i64,
    pub abandons: i64,
}

/// The piece's figures by offer, target, trigger and day, added up by the database: from
/// the rollups for whole days, from the rows for part of a day.
pub async fn breakdown(
    db: &impl ConnectionTrait,
    organization_id: i64,
    piece: &Piece,
    target_id: Option<&str>,
) -> Result<Vec<Breakdown>, DbErr> {
    let backend = db.get_database_backend();
    let (mut values, range) = bounds(piece, "created_at", 2, 3);
    values.insert(0, organization_id.into());
    let target = |column: &str| {
        if target_id.is_some() {
            format!("AND {column} = $4")
        } else {
            String::new()
        }
    };
    if let Some(t) = target_id {
        values.push(t.to_owned().into());
    }
    let zeros = "CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT)";
    let rows = match piece {
        Piece::Days(..) => format!(
            "SELECT day, offer_id, target_id, trig, impressions AS i, {zeros} \
             FROM impression_rollups WHERE organization_id = $1 AND {range} {t} \
             UNION ALL \
             SELECT day, offer_id, target_id, trig, CAST(0 AS BIGINT), saves, saved_mrr_e4, \
                 abandons FROM outcome_rollups \
             WHERE organization_id = $1 AND {range} {t}",
            t = target("target_id"),
        ),
        Piece::Partial { .. } => {
            let (_, first_range) = bounds(piece, "first_at", 2, 3);
            let day = day_of(backend, "created_at");
            let first_day = day_of(backend, "first_at");
            let shown = match backend {
                DatabaseBackend::Postgres => {
                    "FROM impressions i CROSS JOIN LATERAL \
                     jsonb_array_elements_text(CAST(i.offer_ids AS jsonb)) AS j(value)"
                }
                _ => "FROM impressions i, json_each(i.offer_ids) AS j",
            };
            let i_range = range.replace("created_at", "i.created_at");
            let i_day = day.replace("created_at", "i.created_at");
            format!(
                "SELECT {day}, CAST(0 AS BIGINT), target_id, COALESCE(\"trigger\", ''), \
                     CAST(1 AS BIGINT), {zeros} FROM impressions \
                 WHERE organization_id = $1 AND {range} {ti} \
                 UNION ALL \
                 SELECT {i_day}, CAST(j.value AS BIGINT), i.target_id, \
                     COALESCE(i.\"trigger\", ''), CAST(1 AS BIGINT), {zeros} {shown} \
                 WHERE i.organization_id = $1 AND {i_range} {tii} \
                 UNION ALL \
                 SELECT {first_day}, offer_id, target_id, trig, CAST(0 AS BIGINT), \
                     CASE WHEN status = 'saved' THEN 1 ELSE 0 END, \
                     CASE WHEN status = 'saved' THEN mrr_e4 ELSE 0 END, \
                     CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END \
                 FROM first_outcomes WHERE organization_id = $1 AND {first_range} {tf} \
                 UNION ALL \
                 SELECT {day}, offer_id, COALESCE(attributed_target_id, ''), \
                     COALESCE(attributed_trigger, ''), CAST(0 AS BIGINT), \
                     CASE WHEN status = 'saved' THEN 1 ELSE 0 END, \
                     CASE WHEN status = 'saved' THEN COALESCE(mrr_e4, 0) ELSE 0 END, \
                     CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END \
                 FROM outcomes WHERE organization_id = $1 AND {range} \
                     AND end_user_id IS NULL {to}",
                ti = target("target_id"),
                tii = target("i.target_id"),
                tf = target("target_id"),
                to = target("COALESCE(attributed_target_id, '')"),
            )
        }
    };
    // Offer 0 carries the intercept answers themselves: they count for targets, triggers
    // and days; an offer's rows count the answers that showed it.
    let answers = "CAST(SUM(CASE WHEN offer_id = 0 THEN i ELSE 0 END) AS BIGINT)";
    let decided = "CAST(SUM(s) AS BIGINT), CAST(SUM(m) AS BIGINT), CAST(SUM(a) AS BIGINT)";
    let sql = format!(
        "WITH r (day, offer_id, target_id, trig, i, s, m, a) AS MATERIALIZED ({rows}) \
         SELECT 'o', CAST(offer_id AS TEXT), CAST(SUM(i) AS BIGINT), {decided} FROM r \
             WHERE offer_id <> 0 GROUP BY offer_id \
         UNION ALL SELECT 't', target_id, {answers}, {decided} FROM r GROUP BY target_id \
         UNION ALL SELECT 'g', trig, {answers}, {decided} FROM r GROUP BY trig \
         UNION ALL SELECT 'd', day, {answers}, {decided} FROM r GROUP BY day"
    );
    let rows = db.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|r| {
            let dimension = match r.try_get_by_index::<String>(0)?.as_str() {
                "o" => Dimension::Offer,
                "t" => Dimension::Target,
                "g" => Dimension::Trigger,
                _ => Dimension::Day,
            };
            Ok(Breakdown {
                dimension,
                key: text_key(r.try_get_by_index(1)?),
                impressions: r.try_get_by_index(2)?,
                saves: r.try_get_by_index(3)?,
                saved_mrr_e4: r.try_get_by_index(4)?,
                abandons: r.try_get_by_index(5)?,
            })
        })
        .collect()
}

/// Cancellation reasons of a piece by suggested action, category and language.
#[derive(Debug, Clone)]
pub struct ReasonCount {
    pub suggested_action: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
    pub reasons: i64,
    /// Read below `sentiment.ticket_min_confidence`.
    pub low_confidence: i64,
}

pub async fn reasons(
    db: &impl ConnectionTrait,
    organization_id: i64,
    piece: &Piece,
    target_id: Option<&str>,
    ticket_min_confidence: f64,
) -> Result<Vec<ReasonCount>, DbErr> {
    let backend = db.get_database_backend();
    let (mut values, range) = bounds(piece, "created_at", 2, 3);
    values.insert(0, organization_id.into());
    let target = if let Some(t) = target_id {
        values.push(t.to_owned().into());
        "AND target_id = $4"
    } else {
        ""
    };
    let sql = match piece {
        Piece::Days(..) => format!(
            "SELECT suggested_action, category, language, CAST(SUM(reasons) AS BIGINT), \
                 CAST(SUM(low_confidence) AS BIGINT) FROM reason_rollups \
             WHERE organization_id = $1 AND {range} {target} \
             GROUP BY suggested_action, category, language"
        ),
        Piece::Partial { .. } => {
            values.push(ticket_min_confidence.into());
            let bar = if target_id.is_some() { "$5" } else { "$4" };
            format!(
                "SELECT COALESCE(suggested_action, ''), COALESCE(category, ''), \
                     COALESCE(language, ''), CAST(COUNT(*) AS BIGINT), \
                     CAST(SUM(CASE WHEN confidence < {bar} THEN 1 ELSE 0 END) AS BIGINT) \
                 FROM cancellation_reasons WHERE organization_id = $1 AND {range} {target} \
                 GROUP BY COALESCE(suggested_action, ''), COALESCE(category, ''), \
                     COALESCE(language, '')"
            )
        }
    };
    let rows = db.query_all_raw(statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|r| {
            Ok(ReasonCount {
                suggested_action: text_key(r.try_get_by_index(0)?),
                category: text_key(r.try_get_by_index(1)?),
                language: text_key(r.try_get_by_index(2)?),
                reasons: r.try_get_by_index(3)?,
                low_confidence: r.try_get_by_index(4)?,
            })
        })
        .collect()
}

/// Saves of known end users in a piece (each once per end user and offer): how many, and
/// their MRR. Part of a day is read by whole hours (`known_save_hours`) and the rows of at
/// most one partial hour at each end.
pub async fn known_saves(
    db: &impl ConnectionTrait,
    organization_id: i64,
    piece: &Piece,
) -> Result<(i64, i64), DbErr> {
    let backend = db.get_database_backend();
    let mut parts: Vec<(String, Vec<Value>)> = Vec::new();
    match piece {
        Piece::Days(from, until) => parts.push((
            "SELECT CAST(COALESCE(SUM(known_saves), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(known_saved_mrr_e4), 0) AS BIGINT) FROM outcome_rollups \
             WHERE organization_id = $1 AND day >= $2 AND day < $3"
                .to_owned(),
            vec![
                organization_id.into(),
                day_text(*from).into(),
                day_text(*until).into(),
            ],
        )),
        Piece::Partial {
            from,
            until,
            inclusive,
        } => {
            for (a, b, inclusive, whole_hours) in hour_pieces(*from, *until, *inclusive) {
                if whole_hours {
                    parts.push((
                        "SELECT CAST(COALESCE(SUM(saves), 0) AS BIGINT), \
                             CAST(COALESCE(SUM(saved_mrr_e4), 0) AS BIGINT) \
                         FROM known_save_hours \
                         WHERE organization_id = $1 AND hour >= $2 AND hour < $3"
                            .to_owned(),
                        vec![
                            organization_id.into(),
                            a.format("%Y-%m-%dT%H").to_string().into(),
                            b.format("%Y-%m-%dT%H").to_string().into(),
                        ],
                    ));
                } else {
                    let op = if inclusive { "<=" } else { "<" };
                    parts.push((
                        format!(
                            "SELECT CAST(COUNT(*) AS BIGINT), \
                                 CAST(COALESCE(SUM(mrr_e4), 0) AS BIGINT) FROM first_outcomes \
                             WHERE organization_id = $1 AND first_at >= $2 AND first_at {op} $3 \
                                 AND status = 'saved'"
                        ),
                        vec![organization_id.into(), a.into(), b.into()],
                    ));
                }
            }
        }
    }
    let (mut count, mut mrr) = (0, 0);
    for (sql, values) in parts {
        if let Some(r) = db.query_one_raw(statement(backend, &sql, values)).await? {
            count += r.try_get_by_index::<i64>(0)?;
            mrr += r.try_get_by_index::<i64>(1)?;
        }
    }
    Ok((count, mrr))
}

fn hour_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(3600), 0).unwrap_or(at)
}

/// Cuts `[from, until)` (or `[from, until]`) into whole hours and partial edge hours:
/// (from, until, inclusive, whole hours).
fn hour_pieces(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    inclusive: bool,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, bool, bool)> {
    let mut out = Vec::new();
    if from > until || (from == until && !inclusive) {
        return out;
    }
    let hour = Duration::hours(1);
    let first_whole = if hour_floor(from) == from {
        from
    } else {
        hour_floor(from) + hour
    };
    let last_start = hour_floor(until);
    if first_whole > last_start {
        out.push((from, until, inclusive, false));
        return out;
    }
    if from != first_whole {
        out.push((from, first_whole, false, false));
    }
    if first_whole < last_start {
        out.push((first_whole, last_start, false, true));
    }
    if until != last_start || inclusive {
        out.push((last_start, until, inclusive, false));
    }
    out
}

/// End users named in one query at most (an `IN` list of numbers, written into the text).
const IDS_PER_QUERY: usize = 500;

/// Ids as an SQL list: numbers only, so nothing a client wrote reaches the text.
fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first saves (end user, when, MRR) of these end users in `[from, until)`.
pub async fn first_saves_of(
    db: &impl ConnectionTrait,
    organization_id: i64,
    end_users: &[i64],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for chunk in end_users.chunks(IDS_PER_QUERY) {
        let list = id_list(chunk);
        let sql = format!(
            "SELECT end_user_id, first_at, mrr_e4 FROM first_outcomes \
             WHERE organization_id = $1 AND end_user_id IN ({list}) AND status = 'saved' \
                 AND first_at >= $2 AND first_at < $3"
        );
        let values = vec![organization_id.into(), from.into(), until.into()];
        for r in db.query_all_raw(statement(backend, &sql, values)).await? {
            out.push((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
            ));
        }
    }
    Ok(out)
}

/// Per arm: impressions, exposures, saves and their MRR (`store::experiments::figures`).
pub async fn experiment_rows(
    db: &impl ConnectionTrait,
    experiment_id: i64,
) -> Result<Vec<(String, i64, i64, i64, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = "SELECT arm, CAST(SUM(i) AS BIGINT), CAST(SUM(e) AS BIGINT), \
             CAST(SUM(s) AS BIGINT), CAST(SUM(m) AS BIGINT) FROM ( \
         SELECT arm, impressions AS i, 0 AS e, 0 AS s, 0 AS m FROM experiment_impressions \
             WHERE experiment_id = $1 \
         UNION ALL SELECT arm, 0, exposures, 0, 0 FROM experiment_exposures \
             WHERE experiment_id = $1 \
         UNION ALL SELECT arm, 0, 0, saves, saved_mrr_e4 FROM experiment_saves \
             WHERE experiment_id = $1 \
         ) x GROUP BY arm";
    let rows = db
        .query_all_raw(statement(backend, sql, vec![experiment_id.into()]))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
                r.try_get_by_index(3)?,
                r.try_get_by_index(4)?,
            ))
        })
        .collect()
}

/// Per arm, the first saves of known end users made at or before `at`.
pub async fn experiment_known_saves_until(
    db: &impl ConnectionTrait,
    experiment_id: i64,
    at: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let day = at.date_naive();
    let sql = "SELECT arm, CAST(SUM(n) AS BIGINT) FROM ( \
         SELECT arm, known_saves AS n FROM experiment_saves WHERE experiment_id = $1 AND day < $2 \
         UNION ALL SELECT arm, 1 FROM experiment_first_saves \
             WHERE experiment_id = $1 AND first_at >= $3 AND first_at <= $4 \
         ) x GROUP BY arm";
    let values = vec![
        experiment_id.into(),
        day_text(day).into(),
        midnight(day).into(),
        at.into(),
    ];
    let rows = db.query_all_raw(statement(backend, sql, values)).await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// The first saves (arm, end user, when) of these end users in the experiment.
pub async fn experiment_first_saves_of(
    db: &impl ConnectionTrait,
    experiment_id: i64,
    end_users: &[i64],
) -> Result<Vec<(String, i64, DateTime<Utc>)>, DbErr> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for chunk in end_users.chunks(IDS_PER_QUERY) {
        let list = id_list(chunk);
        let sql = format!(
            "SELECT arm, end_user_id, first_at FROM experiment_first_saves \
             WHERE experiment_id = $1 AND end_user_id IN ({list})"
        );
        let values = vec![experiment_id.into()];
        for r in db.query_all_raw(statement(backend, &sql, values)).await? {
            out.push((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_period_is_cut_into_whole_days_and_partial_edges() {
        assert_eq!(
            pieces(
                at("2026-11-01T00:00:00Z"),
                at("2026-12-01T00:00:00Z"),
                false
            ),
            vec![Piece::Days(day("2026-11-01"), day("2026-12-01"))]
        );
        assert_eq!(
            pieces(
                at("2026-11-01T10:00:00Z"),
                at("2026-11-03T05:00:00Z"),
                false
            ),
            vec![
                Piece::Partial {
                    from: at("2026-11-01T10:00:00Z"),
                    until: at("2026-11-02T00:00:00Z"),
                    inclusive: false
                },
                Piece::Days(day("2026-11-02"), day("2026-11-03")),
                Piece::Partial {
                    from: at("2026-11-03T00:00:00Z"),
                    until: at("2026-11-03T05:00:00Z"),
                    inclusive: false
                },
            ]
        );
        assert_eq!(
            pieces(at("2026-11-01T10:00:00Z"), at("2026-11-01T12:00:00Z"), true),
            vec![Piece::Partial {
                from: at("2026-11-01T10:00:00Z"),
                until: at("2026-11-01T12:00:00Z"),
                inclusive: true
            }]
        );
        assert!(pieces(at("2026-11-02T00:00:00Z"), at("2026-11-01T00:00:00Z"), true).is_empty());
    }
}

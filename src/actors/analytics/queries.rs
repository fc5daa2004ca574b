//! The summary's aggregate statements, one per kind of row, written for SQLite and PostgreSQL.
use sea_orm::{DatabaseBackend, Statement, Value as DbValue};

use super::ATTRIBUTION_WINDOW_HOURS;

/// `$n` placeholders for PostgreSQL, `?n` for SQLite.
pub(super) fn statement(backend: DatabaseBackend, sql: &str, values: Vec<DbValue>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The UTC calendar day of a timestamp column, as `YYYY-MM-DD` text.
pub(super) fn day_of(backend: DatabaseBackend, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        }
        // SQLite stores RFC 3339 text in UTC (`2026-11-25T10:00:00+00:00`).
        _ => format!("substr({column}, 1, 10)"),
    }
}

/// A timestamp `hours` before `at` (a column or placeholder), comparable with stored ones.
pub(super) fn hours_before(backend: DatabaseBackend, at: &str, hours: u32) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!("(CAST({at} AS TIMESTAMPTZ) - INTERVAL '{hours} hours')")
        }
        // RFC 3339 text in UTC compares as text; whole seconds are enough for a lower bound.
        _ => format!("strftime('%Y-%m-%dT%H:%M:%S', {at}, '-{hours} hours')"),
    }
}

/// Saves and abandons, once per end user, offer and status, with their attribution.
pub(super) fn outcomes_sql(backend: DatabaseBackend, by_target: bool) -> String {
    let day = day_of(backend, "created_at");
    let target_filter = if by_target { "AND target_id = $4" } else { "" };
    let groups = |dimension: &str, key: &str| {
        format!(
            "SELECT '{dimension}' AS dimension, {key} AS k, status, \
                    CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(mrr_e4), 0) AS BIGINT) AS mrr \
             FROM decisions GROUP BY {key}, status"
        )
    };
    let seen_from = hours_before(backend, "$2", ATTRIBUTION_WINDOW_HOURS);
    let outcome_window = hours_before(backend, "e.created_at", ATTRIBUTION_WINDOW_HOURS);
    let (seen_key, seen_id) = match backend {
        DatabaseBackend::Postgres => (
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
             || lpad(CAST(id AS TEXT), 20, '0')",
            "CAST(right(e.latest, 20) AS BIGINT)",
        ),
        // Stored RFC 3339 text in UTC sorts in time order.
        _ => (
            "created_at || printf('%020d', id)",
            "CAST(substr(e.latest, -20) AS INTEGER)",
        ),
    };
    // The latest intercept at or before each outcome, found without a per-end-user index:
    // the period's outcomes and the intercepts of known end users (in the period and the
    // window before it, read by time) are sorted together per end user, and a running
    // maximum of the intercepts' (time, id) keys gives each outcome its latest intercept (at
    // equal times the intercept sorts first). One scan per table, one sort, lookups by
    // primary key: no join or semi-join whose plan could turn into a scan per row when
    // statistics are stale (a freshly written table has none).
    format!(
        "WITH events AS ( \
            SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS offer_id, end_user_id, \
                   CAST(NULL AS TEXT) AS status, CAST(NULL AS BIGINT) AS mrr_e4, created_at, \
                   0 AS kind, {seen_key} AS seen \
            FROM impressions \
            WHERE organization_id = $1 AND created_at >= {seen_from} AND created_at < $3 \
              AND end_user_id IS NOT NULL \
            UNION ALL \
            SELECT id, offer_id, end_user_id, status, mrr_e4, created_at, 1, CAST(NULL AS TEXT) \
            FROM outcomes \
            WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 \
         ), latest AS ( \
            SELECT e.*, MAX(e.seen) OVER (PARTITION BY e.end_user_id \
                       ORDER BY e.created_at, e.kind ROWS UNBOUNDED PRECEDING) AS latest \
            FROM events e \
         ), attributed AS ( \
            SELECT e.id, e.offer_id, e.end_user_id, e.status, e.mrr_e4, e.created_at, \
                   COALESCE(i.target_id, f.target_id) AS target_id, i.\"trigger\" AS trig \
            FROM latest e \
            LEFT JOIN impressions i ON i.id = {seen_id} AND i.created_at >= {outcome_window} \
            LEFT JOIN offers f ON f.id = e.offer_id \
            WHERE e.kind = 1 \
        ), ranked AS ( \
            SELECT a.offer_id, a.status, a.target_id, a.trig, a.created_at, \
                   ROW_NUMBER() OVER (PARTITION BY a.status, a.offer_id, COALESCE(a.end_user_id, -a.id) \
                                      ORDER BY a.created_at, a.id) AS rn, \
                   MAX(a.mrr_e4) OVER (PARTITION BY a.status, a.offer_id, COALESCE(a.end_user_id, -a.id)) AS pair_mrr \
            FROM attributed a \
         ), decisions AS ( \
            SELECT offer_id, status, target_id, trig, \
                   CASE WHEN status = 'saved' THEN pair_mrr ELSE NULL END AS mrr_e4, \
                   {day} AS day \
            FROM ranked WHERE rn = 1 {target_filter} \
         ) \
         {} UNION ALL {} UNION ALL {} UNION ALL {} UNION ALL {}",
        groups("total", "CAST(NULL AS TEXT)"),
        groups("offer", "CAST(offer_id AS TEXT)"),
        groups("target", "target_id"),
        groups("trigger", "trig"),
        groups("day", "day"),
    )
}

pub(super) fn impressions_sql(backend: DatabaseBackend, by_target: bool) -> String {
    let day = day_of(backend, "created_at");
    let target_filter = if by_target { "AND target_id = $4" } else { "" };
    let shown = match backend {
        DatabaseBackend::Postgres => {
            "FROM imps CROSS JOIN LATERAL jsonb_array_elements_text(CAST(imps.offer_ids AS jsonb)) AS j(value)"
        }
        _ => "FROM imps, json_each(imps.offer_ids) AS j",
    };
    let tail =
        "CAST(NULL AS TEXT) AS status, CAST(COUNT(*) AS BIGINT) AS n, CAST(0 AS BIGINT) AS mrr";
    format!(
        "WITH imps AS ( \
            SELECT target_id, \"trigger\" AS trig, offer_ids, {day} AS day \
            FROM impressions \
            WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 {target_filter} \
         ) \
         SELECT 'total' AS dimension, CAST(NULL AS TEXT) AS k, {tail} FROM imps \
         UNION ALL SELECT 'target', target_id, {tail} FROM imps GROUP BY target_id \
         UNION ALL SELECT 'trigger', trig, {tail} FROM imps GROUP BY trig \
         UNION ALL SELECT 'day', day, {tail} FROM imps GROUP BY day \
         UNION ALL SELECT 'offer', CAST(j.value AS TEXT), {tail} {shown} GROUP BY CAST(j.value AS TEXT)"
    )
}

pub(super) const DUNNING_SQL: &str = "SELECT 'dunning' AS dimension, CAST(NULL AS TEXT) AS k, \
        CAST(NULL AS TEXT) AS status, \
        CAST(COUNT(DISTINCT end_user_id) AS BIGINT) AS n, \
        CAST(COUNT(DISTINCT CASE WHEN recovered_at IS NOT NULL THEN end_user_id END) AS BIGINT) AS mrr \
     FROM dunning_episodes \
     WHERE organization_id = $1 AND started_at >= $2 AND started_at < $3";

/// Cancellation reasons (written by the SentimentAnalyzer) by suggested action, category and
/// language, and how many were read below the confidence bar (the last parameter: `$4`, or
/// `$5` after a target).
pub(super) fn reasons_sql(by_target: bool) -> String {
    let target_filter = if by_target { "AND target_id = $4" } else { "" };
    let bar = if by_target { "$5" } else { "$4" };
    let groups = |dimension: &str, key: &str| {
        format!(
            "SELECT '{dimension}' AS dimension, {key} AS k, CAST(NULL AS TEXT) AS status, \
                    CAST(COUNT(*) AS BIGINT) AS n, CAST(0 AS BIGINT) AS mrr \
             FROM reasons GROUP BY {key}"
        )
    };
    format!(
        "WITH reasons AS ( \
            SELECT suggested_action, category, language, confidence FROM cancellation_reasons \
            WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 {target_filter} \
         ) {} UNION ALL {} UNION ALL {} UNION ALL {} \
         UNION ALL SELECT 'low_confidence', CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
             CAST(COUNT(*) AS BIGINT), CAST(0 AS BIGINT) FROM reasons WHERE confidence < {bar}",
        groups("total", "CAST(NULL AS TEXT)"),
        groups("action", "CAST(suggested_action AS TEXT)"),
        groups("category", "CAST(category AS TEXT)"),
        groups("language", "CAST(language AS TEXT)"),
    )
}

//! The outcome and reason rollups kept per batch of rows rather than per row
//! (`m20261207_000003_rollups_per_batch`): one set of statements for all the rows one
//! statement inserted, so that a rollup row every outcome of a day, offer, target and trigger
//! moves is written once per commit, and a first record once per end user, offer and status.
//!
//! The result equals the per-row rule of `analytics_rollups` applied in id order: of a
//! batch's records of one end user, offer and status, the earliest (then the lowest id) is
//! the first record and the largest MRR counts; what a first record contributed before the
//! batch is taken back where the batch changes it, and what it contributes after is added.
//! PostgreSQL runs them in a statement trigger over the inserted rows (its transition table).
//! SQLite keeps the per-row statements for outcomes (eleven statements with window functions
//! per batch cost its one writer more than they saved) and runs `reason_statement` in the
//! trigger of the batch view `outcome_recorder_batches`, over the reasons it just inserted.
use sea_orm_migration::sea_orm::DbBackend;

use crate::analytics_rollups::{
    day_of, hour_of, EXPERIMENT_SAVES_UPSERT, FIRST_OUTCOME_UPSERT, KNOWN_SAVE_HOURS_UPSERT,
    OUTCOME_ROLLUP_UPSERT,
};

/// A batch's outcomes as a relation with the columns `id, org, usr, offer, status, mrr, at,
/// target, trig, exp, arm` from `rows`, a relation of `outcomes`' columns.
pub fn batch_source(rows: &str) -> String {
    format!(
        "SELECT id, organization_id AS org, end_user_id AS usr, offer_id AS offer, status, \
             COALESCE(mrr_e4, 0) AS mrr, created_at AS at, \
             COALESCE(attributed_target_id, '') AS target, \
             COALESCE(attributed_trigger, '') AS trig, experiment_id AS exp, \
             experiment_arm AS arm FROM {rows}"
    )
}

const OUTCOME_ROLLUPS: &str = "INSERT INTO outcome_rollups (organization_id, day, offer_id, \
     target_id, trig, saves, saved_mrr_e4, abandons, known_saves, known_saved_mrr_e4)";

const EXPERIMENT_SAVES: &str = "INSERT INTO experiment_saves (experiment_id, arm, day, saves, \
     saved_mrr_e4, known_saves)";

/// Per end user, offer and status of the outcomes of `source`: the first record (time, then
/// id), the largest MRR and the batch's last id, which marks the first records this batch
/// changed.
fn first_records(source: &str) -> String {
    format!(
        "SELECT org, usr, offer, status, at AS first_at, target, trig, max_mrr AS mrr, \
             last_id FROM (SELECT b.*, \
                 ROW_NUMBER() OVER (PARTITION BY org, usr, offer, status ORDER BY at, id) \
                     AS rn, \
                 MAX(mrr) OVER (PARTITION BY org, usr, offer, status) AS max_mrr, \
                 MAX(id) OVER (PARTITION BY org, usr, offer, status) AS last_id \
             FROM ({source}) b WHERE usr IS NOT NULL) w WHERE rn = 1"
    )
}

/// PostgreSQL: the first five of `batch_statements` (the known end users' outcomes) as one
/// statement. The batch's first records are grouped once instead of five times; what the
/// records it changes contributed before (read in the statement's snapshot) and what they
/// contribute after (the upsert's `RETURNING`) are netted per rollup row and written by one
/// upsert per table. The same result, in the order of `batch_statements`, provided no other
/// batch changes these records meanwhile (`m20261207_000005_first_records_in_turn`).
pub fn postgres_known_outcomes_statement(source: &str) -> String {
    let backend = DbBackend::Postgres;
    let firsts = first_records(source);
    let (old_day, old_hour) = (
        day_of(backend, "f.first_at"),
        hour_of(backend, "f.first_at"),
    );
    let (new_day, new_hour) = (
        day_of(backend, "n.first_at"),
        hour_of(backend, "n.first_at"),
    );
    format!(
        "WITH g AS MATERIALIZED ({firsts}), \
         taken_back AS MATERIALIZED ( \
             SELECT f.organization_id AS org, {old_day} AS day, {old_hour} AS hour, \
                 f.offer_id AS offer, f.target_id AS target, f.trig, f.status, \
                 f.mrr_e4 AS mrr, -1 AS sign \
             FROM g JOIN first_outcomes f ON f.organization_id = g.org \
                 AND f.end_user_id = g.usr AND f.offer_id = g.offer AND f.status = g.status \
             WHERE g.first_at < f.first_at OR (g.mrr > f.mrr_e4 AND f.status = 'saved')), \
         written AS ( \
             INSERT INTO first_outcomes (organization_id, end_user_id, offer_id, status, \
                 first_at, target_id, trig, mrr_e4, changed_by) \
             SELECT org, usr, offer, status, first_at, target, trig, mrr, last_id \
             FROM g ORDER BY 1, 2, 3, 4 \
             {FIRST_OUTCOME_UPSERT} \
             WHERE excluded.first_at < first_outcomes.first_at \
                 OR excluded.mrr_e4 > first_outcomes.mrr_e4 \
             RETURNING organization_id, end_user_id, offer_id, status, first_at, target_id, \
                 trig, mrr_e4, changed_by), \
         moves AS MATERIALIZED ( \
             SELECT * FROM taken_back \
             UNION ALL \
             SELECT n.organization_id, {new_day}, {new_hour}, n.offer_id, n.target_id, \
                 n.trig, n.status, n.mrr_e4, 1 \
             FROM written n JOIN g ON g.org = n.organization_id AND g.usr = n.end_user_id \
                 AND g.offer = n.offer_id AND g.status = n.status \
             WHERE n.changed_by = g.last_id), \
         hours AS ( \
             INSERT INTO known_save_hours (organization_id, hour, saves, saved_mrr_e4) \
             SELECT org, hour, SUM(sign), SUM(sign * mrr) FROM moves WHERE status = 'saved' \
             GROUP BY 1, 2 ORDER BY 1, 2 {KNOWN_SAVE_HOURS_UPSERT}) \
         {OUTCOME_ROLLUPS} \
         SELECT org, day, offer, target, trig, \
             SUM(CASE WHEN status = 'saved' THEN sign ELSE 0 END), \
             SUM(CASE WHEN status = 'saved' THEN sign * mrr ELSE 0 END), \
             SUM(CASE WHEN status = 'abandoned' THEN sign ELSE 0 END), \
             SUM(CASE WHEN status = 'saved' THEN sign ELSE 0 END), \
             SUM(CASE WHEN status = 'saved' THEN sign * mrr ELSE 0 END) \
         FROM moves GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 {OUTCOME_ROLLUP_UPSERT}"
    )
}

/// The statements, in order, that add the outcomes of `source` (see `batch_source`) to the
/// rollups. Every upsert's rows are grouped by its key and sorted, so that no statement
/// updates a row twice and concurrent writers (PostgreSQL) lock rollup rows in one order.
pub fn batch_statements(backend: DbBackend, source: &str) -> Vec<String> {
    let firsts = format!("({})", first_records(source));
    let joined = format!(
        "FROM {firsts} g JOIN first_outcomes f ON f.organization_id = g.org \
             AND f.end_user_id = g.usr AND f.offer_id = g.offer AND f.status = g.status"
    );
    let changes = "(g.first_at < f.first_at OR (g.mrr > f.mrr_e4 AND f.status = 'saved'))";
    let f_day = day_of(backend, "f.first_at");
    let f_hour = hour_of(backend, "f.first_at");
    let saved = "SUM(CASE WHEN f.status = 'saved' THEN 1 ELSE 0 END)";
    let saved_mrr = "SUM(CASE WHEN f.status = 'saved' THEN f.mrr_e4 ELSE 0 END)";
    let abandoned = "SUM(CASE WHEN f.status = 'abandoned' THEN 1 ELSE 0 END)";
    let contribution = |sign: &str, which: &str| {
        format!(
            "{OUTCOME_ROLLUPS} SELECT f.organization_id, {f_day}, f.offer_id, f.target_id, \
                 f.trig, {sign}{saved}, {sign}{saved_mrr}, {sign}{abandoned}, {sign}{saved}, \
                 {sign}{saved_mrr} {joined} WHERE {which} \
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 {OUTCOME_ROLLUP_UPSERT}"
        )
    };
    let hours = |sign: &str, which: &str| {
        format!(
            "INSERT INTO known_save_hours (organization_id, hour, saves, saved_mrr_e4) \
             SELECT f.organization_id, {f_hour}, {sign}COUNT(*), {sign}SUM(f.mrr_e4) {joined} \
             WHERE f.status = 'saved' AND {which} \
             GROUP BY 1, 2 ORDER BY 1, 2 {KNOWN_SAVE_HOURS_UPSERT}"
        )
    };
    let at_day = day_of(backend, "at");
    // Per experiment, end user and arm: the first save and the largest MRR.
    let arm_firsts = format!(
        "(SELECT exp, usr, arm, MIN(at) AS first_at, MAX(mrr) AS mrr, MAX(id) AS last_id \
         FROM ({source}) b WHERE status = 'saved' AND exp IS NOT NULL AND arm IS NOT NULL \
             AND usr IS NOT NULL GROUP BY exp, usr, arm)"
    );
    let arm_joined = format!(
        "FROM {arm_firsts} g JOIN experiment_first_saves f ON f.experiment_id = g.exp \
             AND f.end_user_id = g.usr AND f.arm = g.arm"
    );
    let arm_contribution = |sign: &str, which: &str| {
        format!(
            "{EXPERIMENT_SAVES} SELECT f.experiment_id, f.arm, {f_day}, {sign}COUNT(*), \
                 {sign}SUM(f.mrr_e4), {sign}COUNT(*) {arm_joined} WHERE {which} \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 {EXPERIMENT_SAVES_UPSERT}"
        )
    };
    let arm_changes = "(g.first_at < f.first_at OR g.mrr > f.mrr_e4)";
    vec![
        // What the first records this batch changes contributed so far.
        contribution("-", changes),
        hours("-", changes),
        format!(
            "INSERT INTO first_outcomes (organization_id, end_user_id, offer_id, status, \
                 first_at, target_id, trig, mrr_e4, changed_by) \
             SELECT org, usr, offer, status, first_at, target, trig, mrr, last_id \
             FROM {firsts} g WHERE 1 = 1 ORDER BY 1, 2, 3, 4 \
             {FIRST_OUTCOME_UPSERT} \
             WHERE excluded.first_at < first_outcomes.first_at \
                 OR excluded.mrr_e4 > first_outcomes.mrr_e4"
        ),
        // What they contribute now.
        contribution("", "f.changed_by = g.last_id"),
        hours("", "f.changed_by = g.last_id"),
        // Anonymous outcomes count by themselves.
        format!(
            "{OUTCOME_ROLLUPS} SELECT org, {at_day}, offer, target, trig, \
                 SUM(CASE WHEN status = 'saved' THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN status = 'saved' THEN mrr ELSE 0 END), \
                 SUM(CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END), 0, 0 \
             FROM ({source}) b WHERE usr IS NULL \
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 {OUTCOME_ROLLUP_UPSERT}"
        ),
        // Experiment arms: once per end user and arm, at the largest MRR.
        arm_contribution("-", arm_changes),
        format!(
            "INSERT INTO experiment_first_saves (experiment_id, end_user_id, arm, first_at, \
                 mrr_e4, changed_by) \
             SELECT exp, usr, arm, first_at, mrr, last_id FROM {arm_firsts} g WHERE 1 = 1 \
             ORDER BY 1, 2, 3 \
             ON CONFLICT (experiment_id, end_user_id, arm) DO UPDATE SET \
             changed_by = excluded.changed_by, \
             first_at = CASE WHEN excluded.first_at < experiment_first_saves.first_at \
                 THEN excluded.first_at ELSE experiment_first_saves.first_at END, \
             mrr_e4 = CASE WHEN excluded.mrr_e4 > experiment_first_saves.mrr_e4 \
                 THEN excluded.mrr_e4 ELSE experiment_first_saves.mrr_e4 END \
             WHERE excluded.first_at < experiment_first_saves.first_at \
                 OR excluded.mrr_e4 > experiment_first_saves.mrr_e4"
        ),
        arm_contribution("", "f.changed_by = g.last_id"),
        format!(
            "{EXPERIMENT_SAVES} SELECT exp, arm, {at_day}, COUNT(*), SUM(mrr), 0 \
             FROM ({source}) b WHERE usr IS NULL AND status = 'saved' AND exp IS NOT NULL \
                 AND arm IS NOT NULL \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 {EXPERIMENT_SAVES_UPSERT}"
        ),
    ]
}

/// The statement that adds the cancellation reasons of `rows` (a relation of
/// `cancellation_reasons`' columns) to their rollups, grouped.
pub fn reason_statement(backend: DbBackend, rows: &str) -> String {
    let day = day_of(backend, "created_at");
    format!(
        "INSERT INTO reason_rollups (organization_id, day, target_id, suggested_action, \
             category, language, reasons, low_confidence) \
         SELECT organization_id, {day}, COALESCE(target_id, ''), \
             COALESCE(suggested_action, ''), COALESCE(category, ''), \
             COALESCE(language, ''), COUNT(*), \
             SUM(CASE WHEN confidence < COALESCE((SELECT s.ticket_min_confidence \
                 FROM analytics_settings s WHERE s.id = 1), 0.6) THEN 1 ELSE 0 END) \
         FROM {rows} GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6 \
         ON CONFLICT (organization_id, day, target_id, suggested_action, category, language) \
         DO UPDATE SET reasons = reason_rollups.reasons + excluded.reasons, \
             low_confidence = reason_rollups.low_confidence + excluded.low_confidence"
    )
}

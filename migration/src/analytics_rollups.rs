//! The analytics rollups' SQL, shared by the migration that creates them
//! (`m20261207_000001_analytics_rollups`) and `saveloops analytics rebuild`.
//!
//! Tables (a missing target or trigger is stored as `''`, so that it can be part of a key):
//! - `impression_rollups` (organization, UTC day, offer, target, trigger): intercept answers;
//!   offer 0 counts the answers themselves, offer n the answers that showed offer n.
//! - `outcome_rollups` (organization, UTC day, offer, target, trigger): saves, their MRR and
//!   abandons, once per end user and offer (dated by the first record, at the largest MRR);
//!   `known_*` are the saves of known end users (what save validation weighs).
//! - `first_outcomes` (organization, end user, offer, status): the first record of each, its
//!   attribution and the largest MRR so far; `changed_by` is the last outcome that changed it.
//! - `reason_rollups` (organization, UTC day, target, action, category, language).
//! - `experiment_impressions`, `experiment_exposures` (experiment, arm), `experiment_saves`
//!   (experiment, arm, UTC day) and `experiment_first_saves` (experiment, end user, arm).
//! - `latest_intercepts` (organization, end user): the end user's latest intercept, which
//!   attributes an outcome when it is written (stored on the outcome row).
//!
//! Writers keep them current in the statements that write the rows: on SQLite the trigger
//! of the view `outcome_recorder_batches` (impressions, aggregated per batch) and row triggers
//! on `outcomes`, `experiment_assignments` and `cancellation_reasons`; on PostgreSQL a
//! statement trigger on `impressions` (its transition table, aggregated) and row triggers on
//! the others.
use sea_orm_migration::sea_orm::DbBackend;

/// The UTC day (`YYYY-MM-DD`) of a timestamp expression.
pub fn day_of(backend: DbBackend, at: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => format!("substr({at}, 1, 10)"),
    }
}

/// The UTC hour (`YYYY-MM-DDTHH`) of a timestamp expression.
pub fn hour_of(backend: DbBackend, at: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"),
        _ => format!("substr({at}, 1, 13)"),
    }
}

/// 24 hours before a timestamp expression, comparable with stored times (as the summary has
/// always computed it: whole seconds on SQLite).
fn window_start(backend: DbBackend, at: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("(CAST({at} AS TIMESTAMPTZ) - INTERVAL '24 hours')"),
        _ => format!("strftime('%Y-%m-%dT%H:%M:%S', {at}, '-24 hours')"),
    }
}

/// A day (`YYYY-MM-DD`, checked by the caller) as a lower bound of stored timestamps.
pub fn day_start(backend: DbBackend, day: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("TIMESTAMPTZ '{day}T00:00:00Z'"),
        _ => format!("'{day}'"),
    }
}

fn timestamp(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "TIMESTAMPTZ",
        _ => "TEXT",
    }
}

pub fn create_tables(backend: DbBackend) -> String {
    let ts = timestamp(backend);
    let without_rowid = match backend {
        DbBackend::Postgres => "",
        _ => " WITHOUT ROWID",
    };
    format!(
        "ALTER TABLE outcomes ADD COLUMN attributed_target_id TEXT;
ALTER TABLE outcomes ADD COLUMN attributed_trigger TEXT;
CREATE TABLE latest_intercepts (organization_id BIGINT NOT NULL, end_user_id BIGINT NOT NULL,
    created_at {ts} NOT NULL, target_id TEXT NOT NULL, trig TEXT,
    PRIMARY KEY (organization_id, end_user_id)){without_rowid};
CREATE TABLE impression_rollups (organization_id BIGINT NOT NULL, day TEXT NOT NULL,
    offer_id BIGINT NOT NULL, target_id TEXT NOT NULL, trig TEXT NOT NULL,
    impressions BIGINT NOT NULL,
    PRIMARY KEY (organization_id, day, offer_id, target_id, trig)){without_rowid};
CREATE TABLE outcome_rollups (organization_id BIGINT NOT NULL, day TEXT NOT NULL,
    offer_id BIGINT NOT NULL, target_id TEXT NOT NULL, trig TEXT NOT NULL,
    saves BIGINT NOT NULL, saved_mrr_e4 BIGINT NOT NULL, abandons BIGINT NOT NULL,
    known_saves BIGINT NOT NULL, known_saved_mrr_e4 BIGINT NOT NULL,
    PRIMARY KEY (organization_id, day, offer_id, target_id, trig)){without_rowid};
CREATE TABLE first_outcomes (organization_id BIGINT NOT NULL, end_user_id BIGINT NOT NULL,
    offer_id BIGINT NOT NULL, status TEXT NOT NULL, first_at {ts} NOT NULL,
    target_id TEXT NOT NULL, trig TEXT NOT NULL, mrr_e4 BIGINT NOT NULL,
    changed_by BIGINT NOT NULL,
    PRIMARY KEY (organization_id, end_user_id, offer_id, status)){without_rowid};
CREATE INDEX idx_first_outcomes_org_first ON first_outcomes (organization_id, first_at);
CREATE TABLE known_save_hours (organization_id BIGINT NOT NULL, hour TEXT NOT NULL,
    saves BIGINT NOT NULL, saved_mrr_e4 BIGINT NOT NULL,
    PRIMARY KEY (organization_id, hour)){without_rowid};
CREATE TABLE reason_rollups (organization_id BIGINT NOT NULL, day TEXT NOT NULL,
    target_id TEXT NOT NULL, suggested_action TEXT NOT NULL, category TEXT NOT NULL,
    language TEXT NOT NULL, reasons BIGINT NOT NULL, low_confidence BIGINT NOT NULL,
    PRIMARY KEY (organization_id, day, target_id, suggested_action, category, language)){without_rowid};
CREATE TABLE analytics_settings (id BIGINT NOT NULL PRIMARY KEY,
    ticket_min_confidence DOUBLE PRECISION NOT NULL);
CREATE TABLE experiment_impressions (experiment_id BIGINT NOT NULL, arm TEXT NOT NULL,
    impressions BIGINT NOT NULL, PRIMARY KEY (experiment_id, arm)){without_rowid};
CREATE TABLE experiment_exposures (experiment_id BIGINT NOT NULL, arm TEXT NOT NULL,
    exposures BIGINT NOT NULL, PRIMARY KEY (experiment_id, arm)){without_rowid};
CREATE TABLE experiment_saves (experiment_id BIGINT NOT NULL, arm TEXT NOT NULL,
    day TEXT NOT NULL, saves BIGINT NOT NULL, saved_mrr_e4 BIGINT NOT NULL,
    known_saves BIGINT NOT NULL,
    PRIMARY KEY (experiment_id, arm, day)){without_rowid};
CREATE TABLE experiment_first_saves (experiment_id BIGINT NOT NULL, end_user_id BIGINT NOT NULL,
    arm TEXT NOT NULL, first_at {ts} NOT NULL, mrr_e4 BIGINT NOT NULL,
    changed_by BIGINT NOT NULL,
    PRIMARY KEY (experiment_id, end_user_id, arm)){without_rowid};
CREATE INDEX idx_experiment_first_saves_first ON experiment_first_saves (experiment_id, first_at);"
    )
}

pub const DROP_TABLES: &str = "DROP TABLE IF EXISTS latest_intercepts;
DROP TABLE IF EXISTS impression_rollups;
DROP TABLE IF EXISTS outcome_rollups;
DROP TABLE IF EXISTS first_outcomes;
DROP TABLE IF EXISTS known_save_hours;
DROP TABLE IF EXISTS reason_rollups;
DROP TABLE IF EXISTS analytics_settings;
DROP TABLE IF EXISTS experiment_impressions;
DROP TABLE IF EXISTS experiment_exposures;
DROP TABLE IF EXISTS experiment_saves;
DROP TABLE IF EXISTS experiment_first_saves;
ALTER TABLE outcomes DROP COLUMN attributed_target_id;
ALTER TABLE outcomes DROP COLUMN attributed_trigger;";

/// The end user's latest intercept at or before `at` and at most 24 hours before it, as
/// (target expression, trigger expression): `latest_intercepts` answers unless it holds a
/// later one (a write that came out of time order); only then are the impressions of the
/// window read, by time (a `CASE`, so that the usual outcome never reads them).
pub(crate) fn attribution(backend: DbBackend, org: &str, user: &str, at: &str) -> (String, String) {
    let window = window_start(backend, at);
    let later = format!(
        "EXISTS (SELECT 1 FROM latest_intercepts l WHERE l.organization_id = {org} \
             AND l.end_user_id = {user} AND l.created_at > {at})"
    );
    let pick = |column: &str, impression_column: &str| {
        format!(
            "CASE WHEN {later} THEN (SELECT i.{impression_column} FROM impressions i \
                 WHERE i.organization_id = {org} AND i.created_at >= {window} \
                   AND i.created_at <= {at} AND i.end_user_id = {user} \
                 ORDER BY i.created_at DESC, i.id DESC LIMIT 1) \
             ELSE (SELECT l.{column} FROM latest_intercepts l \
                 WHERE l.organization_id = {org} AND l.end_user_id = {user} \
                   AND l.created_at <= {at} AND l.created_at >= {window}) END"
        )
    };
    (pick("target_id", "target_id"), pick("trig", "\"trigger\""))
}

const OUTCOME_ROLLUP_COLUMNS: &str = "(organization_id, day, offer_id, target_id, trig, saves, \
     saved_mrr_e4, abandons, known_saves, known_saved_mrr_e4)";

pub(crate) const OUTCOME_ROLLUP_UPSERT: &str =
    "ON CONFLICT (organization_id, day, offer_id, target_id, trig) DO UPDATE SET \
     saves = outcome_rollups.saves + excluded.saves, \
     saved_mrr_e4 = outcome_rollups.saved_mrr_e4 + excluded.saved_mrr_e4, \
     abandons = outcome_rollups.abandons + excluded.abandons, \
     known_saves = outcome_rollups.known_saves + excluded.known_saves, \
     known_saved_mrr_e4 = outcome_rollups.known_saved_mrr_e4 + excluded.known_saved_mrr_e4";

/// A first record meets a stored one: the earlier keeps its date and attribution, the larger
/// MRR counts; `changed_by` names the record that changed what it contributes.
pub(crate) const FIRST_OUTCOME_UPSERT: &str =
    "ON CONFLICT (organization_id, end_user_id, offer_id, status) DO UPDATE SET \
     changed_by = CASE WHEN excluded.first_at < first_outcomes.first_at \
         OR (excluded.mrr_e4 > first_outcomes.mrr_e4 AND first_outcomes.status = 'saved') \
         THEN excluded.changed_by ELSE first_outcomes.changed_by END, \
     target_id = CASE WHEN excluded.first_at < first_outcomes.first_at \
         THEN excluded.target_id ELSE first_outcomes.target_id END, \
     trig = CASE WHEN excluded.first_at < first_outcomes.first_at \
         THEN excluded.trig ELSE first_outcomes.trig END, \
     first_at = CASE WHEN excluded.first_at < first_outcomes.first_at \
         THEN excluded.first_at ELSE first_outcomes.first_at END, \
     mrr_e4 = CASE WHEN excluded.mrr_e4 > first_outcomes.mrr_e4 \
         THEN excluded.mrr_e4 ELSE first_outcomes.mrr_e4 END";

pub(crate) const KNOWN_SAVE_HOURS_UPSERT: &str =
    "ON CONFLICT (organization_id, hour) DO UPDATE SET \
     saves = known_save_hours.saves + excluded.saves, \
     saved_mrr_e4 = known_save_hours.saved_mrr_e4 + excluded.saved_mrr_e4";

pub(crate) const EXPERIMENT_SAVES_UPSERT: &str =
    "ON CONFLICT (experiment_id, arm, day) DO UPDATE SET \
     saves = experiment_saves.saves + excluded.saves, \
     saved_mrr_e4 = experiment_saves.saved_mrr_e4 + excluded.saved_mrr_e4, \
     known_saves = experiment_saves.known_saves + excluded.known_saves";

/// The expressions of the outcome being written.
struct Row {
    id: String,
    org: String,
    user: String,
    offer: String,
    status: String,
    mrr: String,
    at: String,
    target: String,
    trig: String,
    exp: String,
    arm: String,
}

impl Row {
    /// The outcome a row trigger is running for (`NEW`), its target and trigger as given.
    fn of_new(target: &str, trig: &str) -> Row {
        Row {
            id: "NEW.id".into(),
            org: "NEW.organization_id".into(),
            user: "NEW.end_user_id".into(),
            offer: "NEW.offer_id".into(),
            status: "NEW.status".into(),
            mrr: "COALESCE(NEW.mrr_e4, 0)".into(),
            at: "NEW.created_at".into(),
            target: target.into(),
            trig: trig.into(),
            exp: "NEW.experiment_id".into(),
            arm: "NEW.experiment_arm".into(),
        }
    }
}

/// Statements that add one outcome row to the rollups (after its attribution is stored):
/// five for a known end user's, one for an anonymous one's, four for a save credited to an
/// experiment arm, in that order.
fn outcome_statements(backend: DbBackend, r: &Row) -> Vec<String> {
    let Row {
        id,
        org,
        user,
        offer,
        status,
        mrr,
        at,
        target,
        trig,
        exp,
        arm,
    } = r;
    let f_day = day_of(backend, "f.first_at");
    let f_hour = hour_of(backend, "f.first_at");
    let at_day = day_of(backend, at);
    let saved = "CASE WHEN f.status = 'saved' THEN 1 ELSE 0 END";
    let saved_mrr = "CASE WHEN f.status = 'saved' THEN f.mrr_e4 ELSE 0 END";
    let abandoned = "CASE WHEN f.status = 'abandoned' THEN 1 ELSE 0 END";
    let key = format!(
        "f.organization_id = {org} AND f.end_user_id = {user} AND f.offer_id = {offer} \
         AND f.status = {status}"
    );
    let changes = format!("({at} < f.first_at OR ({mrr} > f.mrr_e4 AND f.status = 'saved'))");
    let e_key = format!("f.experiment_id = {exp} AND f.end_user_id = {user} AND f.arm = {arm}");
    let e_changes = format!("({at} < f.first_at OR {mrr} > f.mrr_e4)");
    let experiment_saved =
        format!("{status} = 'saved' AND {exp} IS NOT NULL AND {arm} IS NOT NULL");
    vec![
        // The first record's contribution, when this row changes it (earlier, or more MRR).
        format!(
            "INSERT INTO outcome_rollups {OUTCOME_ROLLUP_COLUMNS} \
             SELECT f.organization_id, {f_day}, f.offer_id, f.target_id, f.trig, -{saved}, \
                 -{saved_mrr}, -{abandoned}, -{saved}, -{saved_mrr} \
             FROM first_outcomes f WHERE {key} AND {changes} {OUTCOME_ROLLUP_UPSERT}"
        ),
        // Known saves by hour too: save validation's boundary day is read by hours.
        format!(
            "INSERT INTO known_save_hours (organization_id, hour, saves, saved_mrr_e4) \
             SELECT f.organization_id, {f_hour}, -1, -f.mrr_e4 FROM first_outcomes f \
             WHERE {key} AND {changes} AND f.status = 'saved' {KNOWN_SAVE_HOURS_UPSERT}"
        ),
        format!(
            "INSERT INTO first_outcomes (organization_id, end_user_id, offer_id, status, \
                 first_at, target_id, trig, mrr_e4, changed_by) \
             SELECT {org}, {user}, {offer}, {status}, {at}, {target}, {trig}, {mrr}, {id} \
             WHERE {user} IS NOT NULL {FIRST_OUTCOME_UPSERT}"
        ),
        // The first record's contribution as it now stands.
        format!(
            "INSERT INTO outcome_rollups {OUTCOME_ROLLUP_COLUMNS} \
             SELECT f.organization_id, {f_day}, f.offer_id, f.target_id, f.trig, {saved}, \
                 {saved_mrr}, {abandoned}, {saved}, {saved_mrr} \
             FROM first_outcomes f WHERE {key} AND f.changed_by = {id} {OUTCOME_ROLLUP_UPSERT}"
        ),
        format!(
            "INSERT INTO known_save_hours (organization_id, hour, saves, saved_mrr_e4) \
             SELECT f.organization_id, {f_hour}, 1, f.mrr_e4 FROM first_outcomes f \
             WHERE {key} AND f.changed_by = {id} AND f.status = 'saved' \
             {KNOWN_SAVE_HOURS_UPSERT}"
        ),
        // An anonymous outcome counts by itself.
        format!(
            "INSERT INTO outcome_rollups {OUTCOME_ROLLUP_COLUMNS} \
             SELECT {org}, {at_day}, {offer}, {target}, {trig}, \
                 CASE WHEN {status} = 'saved' THEN 1 ELSE 0 END, \
                 CASE WHEN {status} = 'saved' THEN {mrr} ELSE 0 END, \
                 CASE WHEN {status} = 'abandoned' THEN 1 ELSE 0 END, 0, 0 \
             WHERE {user} IS NULL {OUTCOME_ROLLUP_UPSERT}"
        ),
        // Experiment arms: once per end user and arm, at the largest MRR.
        format!(
            "INSERT INTO experiment_saves (experiment_id, arm, day, saves, saved_mrr_e4, \
                 known_saves) \
             SELECT f.experiment_id, f.arm, {f_day}, -1, -f.mrr_e4, -1 \
             FROM experiment_first_saves f \
             WHERE {e_key} AND {experiment_saved} AND {e_changes} {EXPERIMENT_SAVES_UPSERT}"
        ),
        format!(
            "INSERT INTO experiment_first_saves (experiment_id, end_user_id, arm, first_at, \
                 mrr_e4, changed_by) \
             SELECT {exp}, {user}, {arm}, {at}, {mrr}, {id} \
             WHERE {user} IS NOT NULL AND {experiment_saved} \
             ON CONFLICT (experiment_id, end_user_id, arm) DO UPDATE SET \
             changed_by = CASE WHEN excluded.first_at < experiment_first_saves.first_at \
                 OR excluded.mrr_e4 > experiment_first_saves.mrr_e4 \
                 THEN excluded.changed_by ELSE experiment_first_saves.changed_by END, \
             first_at = CASE WHEN excluded.first_at < experiment_first_saves.first_at \
                 THEN excluded.first_at ELSE experiment_first_saves.first_at END, \
             mrr_e4 = CASE WHEN excluded.mrr_e4 > experiment_first_saves.mrr_e4 \
                 THEN excluded.mrr_e4 ELSE experiment_first_saves.mrr_e4 END"
        ),
        format!(
            "INSERT INTO experiment_saves (experiment_id, arm, day, saves, saved_mrr_e4, \
                 known_saves) \
             SELECT f.experiment_id, f.arm, {f_day}, 1, f.mrr_e4, 1 \
             FROM experiment_first_saves f \
             WHERE {e_key} AND f.changed_by = {id} {EXPERIMENT_SAVES_UPSERT}"
        ),
        format!(
            "INSERT INTO experiment_saves (experiment_id, arm, day, saves, saved_mrr_e4, \
                 known_saves) \
             SELECT {exp}, {arm}, {at_day}, 1, {mrr}, 0 \
             WHERE {user} IS NULL AND {experiment_saved} {EXPERIMENT_SAVES_UPSERT}"
        ),
    ]
}

fn reason_statement(backend: DbBackend) -> String {
    let day = day_of(backend, "NEW.created_at");
    format!(
        "INSERT INTO reason_rollups (organization_id, day, target_id, suggested_action, \
             category, language, reasons, low_confidence) \
         SELECT NEW.organization_id, {day}, COALESCE(NEW.target_id, ''), \
             COALESCE(NEW.suggested_action, ''), COALESCE(NEW.category, ''), \
             COALESCE(NEW.language, ''), 1, \
             CASE WHEN NEW.confidence < COALESCE((SELECT s.ticket_min_confidence \
                 FROM analytics_settings s WHERE s.id = 1), 0.6) THEN 1 ELSE 0 END \
         WHERE 1 = 1 \
         ON CONFLICT (organization_id, day, target_id, suggested_action, category, language) \
         DO UPDATE SET reasons = reason_rollups.reasons + 1, \
             low_confidence = reason_rollups.low_confidence + excluded.low_confidence"
    )
}

const EXPOSURE_STATEMENT: &str =
    "INSERT INTO experiment_exposures (experiment_id, arm, exposures) \
     SELECT NEW.experiment_id, NEW.arm, 1 WHERE 1 = 1 \
     ON CONFLICT (experiment_id, arm) DO UPDATE SET \
     exposures = experiment_exposures.exposures + 1";

/// SQLite: the statements the batch view's trigger adds after inserting the impressions.
pub const SQLITE_BATCH_IMPRESSIONS: &str = "\
    INSERT INTO impression_rollups (organization_id, day, offer_id, target_id, trig, impressions)
    SELECT org, day, offer, target, trig, COUNT(*) FROM (
        SELECT r.value ->> 0 AS org, substr(r.value ->> 8, 1, 10) AS day, 0 AS offer,
            r.value ->> 2 AS target, COALESCE(r.value ->> 3, '') AS trig
        FROM jsonb_each(NEW.impressions) AS r
        UNION ALL
        SELECT r.value ->> 0, substr(r.value ->> 8, 1, 10), j.value, r.value ->> 2,
            COALESCE(r.value ->> 3, '')
        FROM jsonb_each(NEW.impressions) AS r, json_each(r.value ->> 5) AS j
    ) WHERE 1 GROUP BY org, day, offer, target, trig
    ON CONFLICT (organization_id, day, offer_id, target_id, trig) DO UPDATE SET
        impressions = impression_rollups.impressions + excluded.impressions;
    INSERT INTO latest_intercepts (organization_id, end_user_id, created_at, target_id, trig)
    SELECT org, usr, at, target, trig FROM (
        SELECT r.value ->> 0 AS org, r.value ->> 1 AS usr, r.value ->> 8 AS at,
            r.value ->> 2 AS target, r.value ->> 3 AS trig,
            ROW_NUMBER() OVER (PARTITION BY r.value ->> 0, r.value ->> 1
                ORDER BY r.value ->> 8 DESC, r.key DESC) AS rn
        FROM jsonb_each(NEW.impressions) AS r WHERE (r.value ->> 1) IS NOT NULL
    ) WHERE rn = 1
    ON CONFLICT (organization_id, end_user_id) DO UPDATE SET created_at = excluded.created_at,
        target_id = excluded.target_id, trig = excluded.trig
    WHERE excluded.created_at >= latest_intercepts.created_at;
    INSERT INTO experiment_impressions (experiment_id, arm, impressions)
    SELECT r.value ->> 6, r.value ->> 7, COUNT(*) FROM jsonb_each(NEW.impressions) AS r
    WHERE (r.value ->> 6) IS NOT NULL AND (r.value ->> 7) IS NOT NULL
    GROUP BY r.value ->> 6, r.value ->> 7
    ON CONFLICT (experiment_id, arm) DO UPDATE SET
        impressions = experiment_impressions.impressions + excluded.impressions;";

/// The row triggers (and, on PostgreSQL, the impressions' statement trigger).
pub fn create_triggers(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => postgres_triggers(),
        _ => sqlite_triggers(""),
    }
}

/// SQLite's row triggers, those on outcomes run only for the rows `extra` (`AND …`) admits.
pub(crate) fn sqlite_triggers(extra: &str) -> String {
    let backend = DbBackend::Sqlite;
    let stored = |column: &str| {
        format!("COALESCE((SELECT o.{column} FROM outcomes o WHERE o.id = NEW.id), '')")
    };
    let row = Row::of_new(
        &stored("attributed_target_id"),
        &stored("attributed_trigger"),
    );
    let (target, trigger) = attribution(
        backend,
        "NEW.organization_id",
        "NEW.end_user_id",
        "NEW.created_at",
    );
    let mut body = vec![format!(
        "UPDATE outcomes SET attributed_target_id = COALESCE({target}, \
             (SELECT f.target_id FROM offers f WHERE f.id = NEW.offer_id)), \
         attributed_trigger = {trigger} WHERE id = NEW.id"
    )];
    // Three triggers, each run only for the outcomes it concerns (a statement a trigger runs
    // costs the one writer even when it changes nothing): known end users, anonymous
    // outcomes, saves credited to an experiment arm.
    let statements = outcome_statements(backend, &row);
    body.extend(statements[..5].iter().cloned());
    let body = body.join(";\n    ");
    let anonymous = statements[5].clone();
    let arm = statements[6..].join(";\n    ");
    format!(
        "CREATE TRIGGER analytics_outcome AFTER INSERT ON outcomes
WHEN NEW.end_user_id IS NOT NULL{extra} BEGIN
    {body};
END;
CREATE TRIGGER analytics_outcome_anonymous AFTER INSERT ON outcomes
WHEN NEW.end_user_id IS NULL{extra} BEGIN
    UPDATE outcomes SET attributed_target_id = (SELECT f.target_id FROM offers f
        WHERE f.id = NEW.offer_id) WHERE id = NEW.id;
    {anonymous};
END;
CREATE TRIGGER analytics_outcome_arm AFTER INSERT ON outcomes
WHEN NEW.status = 'saved' AND NEW.experiment_id IS NOT NULL AND NEW.experiment_arm IS NOT NULL{extra}
BEGIN
    {arm};
END;
CREATE TRIGGER analytics_exposure AFTER INSERT ON experiment_assignments BEGIN
    {EXPOSURE_STATEMENT};
END;
CREATE TRIGGER analytics_reason AFTER INSERT ON cancellation_reasons BEGIN
    {};
END;",
        reason_statement(backend)
    )
}

/// PostgreSQL: the statement trigger that adds the impressions any statement inserts to the
/// rollups (replaced by the outcome recorder's own statements in
/// `m20261207_000004_impression_rollups_grouped_by_the_writer`).
pub(crate) fn postgres_impressions_trigger() -> String {
    let day = day_of(DbBackend::Postgres, "created_at");
    format!(
        "CREATE FUNCTION analytics_impressions() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO impression_rollups (organization_id, day, offer_id, target_id, trig, impressions)
    SELECT organization_id, day, offer_id, target_id, trig, COUNT(*) FROM (
        SELECT n.organization_id, {day} AS day, CAST(0 AS BIGINT) AS offer_id, n.target_id,
            COALESCE(n.\"trigger\", '') AS trig FROM new_rows n
        UNION ALL
        SELECT n.organization_id, {day}, CAST(j.value AS BIGINT), n.target_id,
            COALESCE(n.\"trigger\", '') FROM new_rows n
            CROSS JOIN LATERAL jsonb_array_elements_text(CAST(n.offer_ids AS jsonb)) AS j(value)
    ) s GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (organization_id, day, offer_id, target_id, trig) DO UPDATE SET
        impressions = impression_rollups.impressions + excluded.impressions;
    INSERT INTO latest_intercepts (organization_id, end_user_id, created_at, target_id, trig)
    SELECT DISTINCT ON (n.organization_id, n.end_user_id) n.organization_id, n.end_user_id,
        n.created_at, n.target_id, n.\"trigger\"
    FROM new_rows n WHERE n.end_user_id IS NOT NULL
    ORDER BY n.organization_id, n.end_user_id, n.created_at DESC, n.id DESC
    ON CONFLICT (organization_id, end_user_id) DO UPDATE SET created_at = excluded.created_at,
        target_id = excluded.target_id, trig = excluded.trig
    WHERE excluded.created_at >= latest_intercepts.created_at;
    INSERT INTO experiment_impressions (experiment_id, arm, impressions)
    SELECT n.experiment_id, n.experiment_arm, COUNT(*) FROM new_rows n
    WHERE n.experiment_id IS NOT NULL AND n.experiment_arm IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (experiment_id, arm) DO UPDATE SET
        impressions = experiment_impressions.impressions + excluded.impressions;
    RETURN NULL;
END $fn$;
CREATE TRIGGER analytics_impressions AFTER INSERT ON impressions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_impressions();"
    )
}

/// SQLite: row triggers for outcomes that arrive with their attribution (`condition`, `AND …`,
/// says which): the first migration's statements reading it from the row itself, without the
/// `UPDATE` that stores it.
pub(crate) fn sqlite_attributed_outcome_triggers(condition: &str) -> String {
    let row = Row::of_new(
        "COALESCE(NEW.attributed_target_id, '')",
        "COALESCE(NEW.attributed_trigger, '')",
    );
    let statements = outcome_statements(DbBackend::Sqlite, &row);
    let known = statements[..5].join(";\n    ");
    let anonymous = statements[5].clone();
    let arm = statements[6..].join(";\n    ");
    format!(
        "CREATE TRIGGER analytics_attributed_outcome AFTER INSERT ON outcomes
WHEN NEW.end_user_id IS NOT NULL{condition} BEGIN
    {known};
END;
CREATE TRIGGER analytics_attributed_outcome_anonymous AFTER INSERT ON outcomes
WHEN NEW.end_user_id IS NULL{condition} BEGIN
    {anonymous};
END;
CREATE TRIGGER analytics_attributed_outcome_arm AFTER INSERT ON outcomes
WHEN NEW.status = 'saved' AND NEW.experiment_id IS NOT NULL AND NEW.experiment_arm IS NOT NULL{condition}
BEGIN
    {arm};
END;"
    )
}

/// PostgreSQL, in a `BEFORE INSERT` row trigger on outcomes: the row's attribution (the
/// latest intercept's target and trigger; else the offer's target, trigger unknown).
pub(crate) fn postgres_attribution() -> String {
    let (target, trigger) = attribution(
        DbBackend::Postgres,
        "NEW.organization_id",
        "NEW.end_user_id",
        "NEW.created_at",
    );
    format!(
        "NEW.attributed_target_id := {target};
    NEW.attributed_trigger := CASE WHEN NEW.attributed_target_id IS NULL THEN NULL
        ELSE {trigger} END;
    IF NEW.attributed_target_id IS NULL THEN
        SELECT f.target_id INTO NEW.attributed_target_id FROM offers f WHERE f.id = NEW.offer_id;
    END IF;"
    )
}

fn postgres_triggers() -> String {
    let backend = DbBackend::Postgres;
    let row = Row::of_new(
        "COALESCE(NEW.attributed_target_id, '')",
        "COALESCE(NEW.attributed_trigger, '')",
    );
    let attribute = postgres_attribution();
    let all = outcome_statements(backend, &row);
    let known = all[..5].join(";\n        ");
    let anonymous = all[5].clone();
    let arm = all[6..].join(";\n        ");
    format!(
        "CREATE FUNCTION analytics_outcome() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {attribute}
    IF NEW.end_user_id IS NOT NULL THEN
        {known};
    ELSE
        {anonymous};
    END IF;
    IF NEW.status = 'saved' AND NEW.experiment_id IS NOT NULL
        AND NEW.experiment_arm IS NOT NULL THEN
        {arm};
    END IF;
    RETURN NEW;
END $fn$;
CREATE TRIGGER analytics_outcome BEFORE INSERT ON outcomes
    FOR EACH ROW EXECUTE FUNCTION analytics_outcome();
CREATE FUNCTION analytics_exposure() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {EXPOSURE_STATEMENT};
    RETURN NULL;
END $fn$;
CREATE TRIGGER analytics_exposure AFTER INSERT ON experiment_assignments
    FOR EACH ROW EXECUTE FUNCTION analytics_exposure();
CREATE FUNCTION analytics_reason() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {};
    RETURN NULL;
END $fn$;
CREATE TRIGGER analytics_reason AFTER INSERT ON cancellation_reasons
    FOR EACH ROW EXECUTE FUNCTION analytics_reason();
{impressions}",
        reason_statement(backend),
        impressions = postgres_impressions_trigger(),
    )
}

pub fn drop_triggers(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "DROP TRIGGER IF EXISTS analytics_outcome ON outcomes;
DROP TRIGGER IF EXISTS analytics_exposure ON experiment_assignments;
DROP TRIGGER IF EXISTS analytics_reason ON cancellation_reasons;
DROP TRIGGER IF EXISTS analytics_impressions ON impressions;
DROP FUNCTION IF EXISTS analytics_outcome();
DROP FUNCTION IF EXISTS analytics_exposure();
DROP FUNCTION IF EXISTS analytics_reason();
DROP FUNCTION IF EXISTS analytics_impressions();"
        }
        _ => {
            "DROP TRIGGER IF EXISTS analytics_outcome;
DROP TRIGGER IF EXISTS analytics_outcome_anonymous;
DROP TRIGGER IF EXISTS analytics_outcome_arm;
DROP TRIGGER IF EXISTS analytics_exposure;
DROP TRIGGER IF EXISTS analytics_reason;"
        }
    }
}

/// Stores each outcome's attribution from the rows already stored (the summary's former
/// rule, applied at once: the latest intercept of the end user at or before the outcome,
/// within 24 hours; else the offer's target, trigger unknown). For the migration.
pub fn backfill_attribution(backend: DbBackend) -> Vec<String> {
    let window = window_start(backend, "e.created_at");
    let (seen_key, seen_id) = match backend {
        DbBackend::Postgres => (
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') \
             || lpad(CAST(id AS TEXT), 20, '0')",
            "CAST(right(e.latest, 20) AS BIGINT)",
        ),
        _ => (
            "created_at || printf('%020d', id)",
            "CAST(substr(e.latest, -20) AS INTEGER)",
        ),
    };
    vec![
        format!(
            "WITH events AS ( \
                SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS offer_id, end_user_id, \
                       created_at, 0 AS kind, {seen_key} AS seen \
                FROM impressions WHERE end_user_id IS NOT NULL \
                UNION ALL \
                SELECT id, offer_id, end_user_id, created_at, 1, CAST(NULL AS TEXT) FROM outcomes \
             ), latest AS ( \
                SELECT e.*, MAX(e.seen) OVER (PARTITION BY e.end_user_id \
                    ORDER BY e.created_at, e.kind ROWS UNBOUNDED PRECEDING) AS latest \
                FROM events e \
             ), attributed AS ( \
                SELECT e.id, COALESCE(i.target_id, f.target_id) AS target_id, \
                       i.\"trigger\" AS trig \
                FROM latest e \
                LEFT JOIN impressions i ON i.id = {seen_id} AND i.created_at >= {window} \
                LEFT JOIN offers f ON f.id = e.offer_id \
                WHERE e.kind = 1 \
             ) \
             UPDATE outcomes SET attributed_target_id = a.target_id, attributed_trigger = a.trig \
             FROM attributed a WHERE outcomes.id = a.id"
        ),
        "INSERT INTO latest_intercepts (organization_id, end_user_id, created_at, target_id, trig) \
         SELECT organization_id, end_user_id, created_at, target_id, trig FROM ( \
             SELECT organization_id, end_user_id, created_at, target_id, \"trigger\" AS trig, \
                 ROW_NUMBER() OVER (PARTITION BY organization_id, end_user_id \
                     ORDER BY created_at DESC, id DESC) AS rn \
             FROM impressions WHERE end_user_id IS NOT NULL) x WHERE rn = 1"
            .to_owned(),
    ]
}

/// What a rebuild covers: an organization (or all) and whole UTC days `[from, until)`
/// (`YYYY-MM-DD`, or all time).
pub struct RebuildScope {
    pub organization_id: Option<i64>,
    pub days: Option<(String, String)>,
}

/// Statements that rebuild the rollups of `scope` from the stored rows, in one transaction.
/// First records and experiment figures are rebuilt whole for the organization (a first
/// record may lie before the period); the day rollups for the period's days.
pub fn rebuild(backend: DbBackend, scope: &RebuildScope) -> Vec<String> {
    let mut statements = rebuild_rows(backend, scope);
    statements.extend(rebuild_reasons(backend, scope));
    statements
}

fn org_filter(scope: &RebuildScope, alias: &str) -> String {
    match scope.organization_id {
        Some(id) => format!("{alias}organization_id = {id}"),
        None => "1 = 1".to_owned(),
    }
}

fn time_filter(backend: DbBackend, scope: &RebuildScope, column: &str) -> String {
    match &scope.days {
        Some((from, until)) => format!(
            "{column} >= {} AND {column} < {}",
            day_start(backend, from),
            day_start(backend, until)
        ),
        None => "1 = 1".to_owned(),
    }
}

fn day_filter(scope: &RebuildScope, column: &str) -> String {
    match &scope.days {
        Some((from, until)) => format!("{column} >= '{from}' AND {column} < '{until}'"),
        None => "1 = 1".to_owned(),
    }
}

/// The reasons' rollups of `scope` (also when `sentiment.ticket_min_confidence` changed).
pub fn rebuild_reasons(backend: DbBackend, scope: &RebuildScope) -> Vec<String> {
    let org = |alias: &str| org_filter(scope, alias);
    let day_filter = |column: &str| day_filter(scope, column);
    let time_filter = |column: &str| time_filter(backend, scope, column);
    let created_day = day_of(backend, "created_at");
    vec![
        format!(
            "DELETE FROM reason_rollups WHERE {} AND {}",
            org(""),
            day_filter("day")
        ),
        format!(
            "INSERT INTO reason_rollups (organization_id, day, target_id, suggested_action, \
                 category, language, reasons, low_confidence) \
             SELECT organization_id, {created_day}, COALESCE(target_id, ''), \
                 COALESCE(suggested_action, ''), COALESCE(category, ''), \
                 COALESCE(language, ''), COUNT(*), \
                 SUM(CASE WHEN confidence < COALESCE((SELECT s.ticket_min_confidence \
                     FROM analytics_settings s WHERE s.id = 1), 0.6) THEN 1 ELSE 0 END) \
             FROM cancellation_reasons WHERE {} AND {} \
             GROUP BY organization_id, {created_day}, COALESCE(target_id, ''), \
                 COALESCE(suggested_action, ''), COALESCE(category, ''), COALESCE(language, '')",
            org(""),
            time_filter("created_at"),
        ),
    ]
}

fn rebuild_rows(backend: DbBackend, scope: &RebuildScope) -> Vec<String> {
    let org = |alias: &str| org_filter(scope, alias);
    let day_filter = |column: &str| day_filter(scope, column);
    let time_filter = |column: &str| time_filter(backend, scope, column);
    let experiments = match scope.organization_id {
        Some(id) => format!("SELECT id FROM experiments WHERE organization_id = {id}"),
        None => "SELECT id FROM experiments".to_owned(),
    };
    let first_day = day_of(backend, "first_at");
    let first_hour = hour_of(backend, "first_at");
    let created_day = day_of(backend, "created_at");
    let imp_day = day_of(backend, "i.created_at");
    let offers_shown = match backend {
        DbBackend::Postgres => {
            "impressions i CROSS JOIN LATERAL \
             jsonb_array_elements_text(CAST(i.offer_ids AS jsonb)) AS j(value)"
        }
        _ => "impressions i, json_each(i.offer_ids) AS j",
    };
    vec![
        format!("DELETE FROM first_outcomes WHERE {}", org("")),
        format!(
            "INSERT INTO first_outcomes (organization_id, end_user_id, offer_id, status, \
                 first_at, target_id, trig, mrr_e4, changed_by) \
             SELECT organization_id, end_user_id, offer_id, status, created_at, \
                 COALESCE(attributed_target_id, ''), COALESCE(attributed_trigger, ''), best, id \
             FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY organization_id, end_user_id, \
                       offer_id, status ORDER BY created_at, id) AS rn, \
                   MAX(COALESCE(mrr_e4, 0)) OVER (PARTITION BY organization_id, end_user_id, \
                       offer_id, status) AS best \
                   FROM outcomes o WHERE {} AND end_user_id IS NOT NULL) x WHERE rn = 1",
            org("o.")
        ),
        format!(
            "DELETE FROM outcome_rollups WHERE {} AND {}",
            org(""),
            day_filter("day")
        ),
        format!(
            "INSERT INTO outcome_rollups {OUTCOME_ROLLUP_COLUMNS} \
             SELECT organization_id, day, offer_id, target_id, trig, SUM(saves), SUM(mrr), \
                 SUM(abandons), SUM(known), SUM(known_mrr) FROM ( \
                 SELECT organization_id, {first_day} AS day, offer_id, target_id, trig, \
                     CASE WHEN status = 'saved' THEN 1 ELSE 0 END AS saves, \
                     CASE WHEN status = 'saved' THEN mrr_e4 ELSE 0 END AS mrr, \
                     CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END AS abandons, \
                     CASE WHEN status = 'saved' THEN 1 ELSE 0 END AS known, \
                     CASE WHEN status = 'saved' THEN mrr_e4 ELSE 0 END AS known_mrr \
                 FROM first_outcomes WHERE {} AND {} \
                 UNION ALL \
                 SELECT organization_id, {created_day}, offer_id, \
                     COALESCE(attributed_target_id, ''), COALESCE(attributed_trigger, ''), \
                     CASE WHEN status = 'saved' THEN 1 ELSE 0 END, \
                     CASE WHEN status = 'saved' THEN COALESCE(mrr_e4, 0) ELSE 0 END, \
                     CASE WHEN status = 'abandoned' THEN 1 ELSE 0 END, 0, 0 \
                 FROM outcomes WHERE {} AND {} AND end_user_id IS NULL \
             ) x GROUP BY organization_id, day, offer_id, target_id, trig",
            org(""),
            time_filter("first_at"),
            org(""),
            time_filter("created_at"),
        ),
        format!(
            "DELETE FROM known_save_hours WHERE {} AND {}",
            org(""),
            day_filter("hour")
        ),
        format!(
            "INSERT INTO known_save_hours (organization_id, hour, saves, saved_mrr_e4) \
             SELECT organization_id, {first_hour}, COUNT(*), SUM(mrr_e4) FROM first_outcomes \
             WHERE {} AND {} AND status = 'saved' GROUP BY organization_id, {first_hour}",
            org(""),
            time_filter("first_at"),
        ),
        format!(
            "DELETE FROM impression_rollups WHERE {} AND {}",
            org(""),
            day_filter("day")
        ),
        format!(
            "INSERT INTO impression_rollups (organization_id, day, offer_id, target_id, trig, \
                 impressions) \
             SELECT organization_id, day, offer_id, target_id, trig, COUNT(*) FROM ( \
                 SELECT i.organization_id, {imp_day} AS day, CAST(0 AS BIGINT) AS offer_id, \
                     i.target_id, COALESCE(i.\"trigger\", '') AS trig \
                 FROM impressions i WHERE {} AND {} \
                 UNION ALL \
                 SELECT i.organization_id, {imp_day}, CAST(j.value AS BIGINT), i.target_id, \
                     COALESCE(i.\"trigger\", '') \
                 FROM {offers_shown} WHERE {} AND {} \
             ) x GROUP BY organization_id, day, offer_id, target_id, trig",
            org("i."),
            time_filter("i.created_at"),
            org("i."),
            time_filter("i.created_at"),
        ),
        format!("DELETE FROM experiment_impressions WHERE experiment_id IN ({experiments})"),
        format!(
            "INSERT INTO experiment_impressions (experiment_id, arm, impressions) \
             SELECT experiment_id, experiment_arm, COUNT(*) FROM impressions \
             WHERE experiment_id IN ({experiments}) AND experiment_arm IS NOT NULL \
             GROUP BY experiment_id, experiment_arm"
        ),
        format!("DELETE FROM experiment_exposures WHERE experiment_id IN ({experiments})"),
        format!(
            "INSERT INTO experiment_exposures (experiment_id, arm, exposures) \
             SELECT experiment_id, arm, COUNT(*) FROM experiment_assignments \
             WHERE experiment_id IN ({experiments}) GROUP BY experiment_id, arm"
        ),
        format!("DELETE FROM experiment_first_saves WHERE experiment_id IN ({experiments})"),
        format!(
            "INSERT INTO experiment_first_saves (experiment_id, end_user_id, arm, first_at, \
                 mrr_e4, changed_by) \
             SELECT experiment_id, end_user_id, experiment_arm, created_at, best, id \
             FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY experiment_id, end_user_id, \
                       experiment_arm ORDER BY created_at, id) AS rn, \
                   MAX(COALESCE(mrr_e4, 0)) OVER (PARTITION BY experiment_id, end_user_id, \
                       experiment_arm) AS best \
                   FROM outcomes o WHERE experiment_id IN ({experiments}) \
                       AND experiment_arm IS NOT NULL AND end_user_id IS NOT NULL \
                       AND status = 'saved') x WHERE rn = 1"
        ),
        format!("DELETE FROM experiment_saves WHERE experiment_id IN ({experiments})"),
        format!(
            "INSERT INTO experiment_saves (experiment_id, arm, day, saves, saved_mrr_e4, \
                 known_saves) \
             SELECT experiment_id, arm, day, SUM(n), SUM(mrr), SUM(known) FROM ( \
                 SELECT experiment_id, arm, {first_day} AS day, 1 AS n, mrr_e4 AS mrr, \
                     1 AS known \
                 FROM experiment_first_saves WHERE experiment_id IN ({experiments}) \
                 UNION ALL \
                 SELECT experiment_id, experiment_arm, {created_day}, 1, COALESCE(mrr_e4, 0), 0 \
                 FROM outcomes WHERE experiment_id IN ({experiments}) \
                     AND experiment_arm IS NOT NULL AND end_user_id IS NULL \
                     AND status = 'saved' \
             ) x GROUP BY experiment_id, arm, day"
        ),
    ]
}

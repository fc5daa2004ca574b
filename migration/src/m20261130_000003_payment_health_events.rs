//! SQLite only: a view that takes payment-health events, whose INSTEAD OF triggers apply
//! them. A batch of failures and success signals is then one INSERT into the view, so one
//! statement and one transaction (a writing statement takes SQLite's write lock as it starts,
//! as `BEGIN IMMEDIATE` does). The same batch as a script of several statements made the
//! connection's thread hand each statement's result to the waiting task, which on a busy
//! machine took the core from that thread at each hand-off. PostgreSQL takes a batch as one
//! statement already (data-modifying CTEs) and gets nothing here.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Columns: `kind` is `failure`, `success` or `announcement`; `payment` says whether a
/// success is a payment (which ends dunning); `payload` is an announcement's (the change log
/// row); `at` is the time of the batch.
const VIEW: &str = "\
CREATE VIEW payment_health_events \
    (kind, organization_id, end_user_id, event, payment, payload, at) AS \
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;";

/// The failure's update of its end user (every version of the failure's trigger).
pub(crate) const END_USER_FAILED: &str = "\
    UPDATE end_users SET needs_payment_update = 1, payment_failures = payment_failures + 1,
        first_failed_at = COALESCE(first_failed_at, NEW.at), last_failed_at = NEW.at,
        updated_at = NEW.at
    WHERE id = NEW.end_user_id;";

/// The success's update of its end user (every version of the success's trigger).
pub(crate) const END_USER_SUCCEEDED: &str = "\
    UPDATE end_users SET last_success_at = NEW.at, last_success_event = NEW.event,
        updated_at = NEW.at,
        needs_payment_update = needs_payment_update AND NOT NEW.payment,
        payment_failures = CASE WHEN NEW.payment THEN 0 ELSE payment_failures END,
        first_failed_at = CASE WHEN NEW.payment THEN NULL ELSE first_failed_at END
    WHERE id = NEW.end_user_id;";

/// A failure opens a dunning episode, or counts in the open one.
const FAILURE_COUNTS_IN_EPISODE: &str = "\
    INSERT INTO dunning_episodes
        (organization_id, end_user_id, started_at, last_failed_at, failures)
    VALUES (NEW.organization_id, NEW.end_user_id, NEW.at, NEW.at, 1)
    ON CONFLICT (end_user_id) WHERE recovered_at IS NULL
    DO UPDATE SET failures = failures + 1, last_failed_at = excluded.last_failed_at;";

/// A payment closes the open episode.
const PAYMENT_CLOSES_EPISODE: &str = "\
    UPDATE dunning_episodes SET recovered_at = NEW.at, recovery_event = NEW.event
    WHERE end_user_id = NEW.end_user_id AND NEW.payment AND recovered_at IS NULL;";

/// The trigger that applies the events of one `kind` by running `body`.
pub(crate) fn trigger(kind: &str, body: &[&str]) -> String {
    format!(
        "CREATE TRIGGER payment_health_{kind} INSTEAD OF INSERT ON payment_health_events \
         WHEN NEW.kind = '{kind}' BEGIN\n{}\nEND;",
        body.join("\n")
    )
}

/// The failure's and the success's triggers as this migration made them (a later one
/// replaces them; its `down` restores these).
pub(crate) fn first_health_triggers() -> [String; 2] {
    [
        trigger("failure", &[END_USER_FAILED, FAILURE_COUNTS_IN_EPISODE]),
        trigger("success", &[END_USER_SUCCEEDED, PAYMENT_CLOSES_EPISODE]),
    ]
}

const ANNOUNCEMENT_TRIGGER: &str = "\
CREATE TRIGGER payment_health_announcement INSTEAD OF INSERT ON payment_health_events \
WHEN NEW.kind = 'announcement' BEGIN
    INSERT INTO end_user_changes (payload, created_at) VALUES (NEW.payload, NEW.at);
END;";

const DOWN: &str = "\
DROP TRIGGER IF EXISTS payment_health_announcement;
DROP TRIGGER IF EXISTS payment_health_success;
DROP TRIGGER IF EXISTS payment_health_failure;
DROP VIEW IF EXISTS payment_health_events;";

/// Runs `script` on the `backend` alone.
pub(crate) async fn run_on(
    backend: DbBackend,
    manager: &SchemaManager<'_>,
    script: &str,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != backend {
        return Ok(());
    }
    // One call: on SQLite the pool may hand each call another connection, whose cached
    // schema would not yet hold the view.
    manager
        .get_connection()
        .execute_unprepared(script)
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [failure, success] = first_health_triggers();
        let up = [VIEW, &failure, &success, ANNOUNCEMENT_TRIGGER].join("\n");
        run_on(DbBackend::Sqlite, manager, &up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, DOWN).await
    }
}

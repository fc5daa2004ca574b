//! SQLite only: a payment failure no longer writes its open dunning episode. While an episode
//! is open, its end user's row counts the failures (`payment_failures`, `last_failed_at`,
//! which the failure updates anyway); the episode is written when it opens and when a payment
//! closes it, which copies those counts into it. Under a stream of failures of end users
//! already in dunning, each failure wrote two scattered pages (the end user's and the
//! episode's) and now writes one. PostgreSQL's statement does the same in code
//! (`dunning_tracker::write_health_on_postgres`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::{
    first_health_triggers, run_on, trigger, END_USER_FAILED, END_USER_SUCCEEDED,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const DROP_HEALTH_TRIGGERS: &str = "\
DROP TRIGGER IF EXISTS payment_health_failure;
DROP TRIGGER IF EXISTS payment_health_success;";

/// A failure opens a dunning episode when its end user has none open.
const FAILURE_OPENS_EPISODE: &str = "\
    INSERT INTO dunning_episodes
        (organization_id, end_user_id, started_at, last_failed_at, failures)
    VALUES (NEW.organization_id, NEW.end_user_id, NEW.at, NEW.at, 1)
    ON CONFLICT (end_user_id) WHERE recovered_at IS NULL DO NOTHING;";

/// A payment closes the open episode with its end user's counts, read before the end user's
/// update resets them; the larger count wins, so that an episode opened before this
/// migration (counted in its own row) keeps its count.
const PAYMENT_CLOSES_EPISODE_WITH_COUNTS: &str = "\
    UPDATE dunning_episodes SET recovered_at = NEW.at, recovery_event = NEW.event,
        failures = MAX(failures, COALESCE(
            (SELECT payment_failures FROM end_users WHERE id = NEW.end_user_id), 0)),
        last_failed_at = COALESCE(
            (SELECT last_failed_at FROM end_users WHERE id = NEW.end_user_id), last_failed_at)
    WHERE end_user_id = NEW.end_user_id AND NEW.payment AND recovered_at IS NULL;";

/// Before the old triggers come back: open episodes take their end users' counts, since
/// the old failure trigger counts in the episode again.
const OPEN_EPISODES_TAKE_COUNTS: &str = "\
UPDATE dunning_episodes SET
    failures = MAX(failures, COALESCE((SELECT payment_failures FROM end_users
        WHERE id = dunning_episodes.end_user_id), 0)),
    last_failed_at = COALESCE((SELECT last_failed_at FROM end_users
        WHERE id = dunning_episodes.end_user_id), last_failed_at)
WHERE recovered_at IS NULL;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let failure = trigger("failure", &[END_USER_FAILED, FAILURE_OPENS_EPISODE]);
        let success = trigger(
            "success",
            &[PAYMENT_CLOSES_EPISODE_WITH_COUNTS, END_USER_SUCCEEDED],
        );
        let up = [DROP_HEALTH_TRIGGERS, &failure, &success].join("\n");
        run_on(DbBackend::Sqlite, manager, &up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [failure, success] = first_health_triggers();
        let down = [
            OPEN_EPISODES_TAKE_COUNTS,
            DROP_HEALTH_TRIGGERS,
            &failure,
            &success,
        ]
        .join("\n");
        run_on(DbBackend::Sqlite, manager, &down).await
    }
}

//! SQLite only: a payment failure no longer writes its open dunning episode. While an episode
//! is open, its end user's row counts the failures (`payment_failures`, `last_failed_at`,
//! which the failure updates anyway); the episode is written when it opens and when a payment
//! closes it, which copies those counts into it. Under a stream of failures of end users
//! already in dunning, each failure wrote two scattered pages (the end user's and the
//! episode's) and now writes one. PostgreSQL's statement does the same in code
//! (`dunning_tracker::write_health_on_postgres`).
use sea_orm_migration::prelude::*;

use crate::m20261130_000003_payment_health_events::{
    run_on_sqlite, FAILURE_TRIGGER, SUCCESS_TRIGGER,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The episode is closed before the end user's counts are reset, from those counts; the
/// larger count wins, so an episode opened before this migration (counted in its own row)
/// keeps its count.
const UP: &str = "\
DROP TRIGGER IF EXISTS payment_health_failure;
DROP TRIGGER IF EXISTS payment_health_success;
CREATE TRIGGER payment_health_failure INSTEAD OF INSERT ON payment_health_events \
WHEN NEW.kind = 'failure' BEGIN
    UPDATE end_users SET needs_payment_update = 1, payment_failures = payment_failures + 1,
        first_failed_at = COALESCE(first_failed_at, NEW.at), last_failed_at = NEW.at,
        updated_at = NEW.at
    WHERE id = NEW.end_user_id;
    INSERT INTO dunning_episodes
        (organization_id, end_user_id, started_at, last_failed_at, failures)
    VALUES (NEW.organization_id, NEW.end_user_id, NEW.at, NEW.at, 1)
    ON CONFLICT (end_user_id) WHERE recovered_at IS NULL DO NOTHING;
END;
CREATE TRIGGER payment_health_success INSTEAD OF INSERT ON payment_health_events \
WHEN NEW.kind = 'success' BEGIN
    UPDATE dunning_episodes SET recovered_at = NEW.at, recovery_event = NEW.event,
        failures = MAX(failures, COALESCE(
            (SELECT payment_failures FROM end_users WHERE id = NEW.end_user_id), 0)),
        last_failed_at = COALESCE(
            (SELECT last_failed_at FROM end_users WHERE id = NEW.end_user_id), last_failed_at)
    WHERE end_user_id = NEW.end_user_id AND NEW.payment AND recovered_at IS NULL;
    UPDATE end_users SET last_success_at = NEW.at, last_success_event = NEW.event,
        updated_at = NEW.at,
        needs_payment_update = needs_payment_update AND NOT NEW.payment,
        payment_failures = CASE WHEN NEW.payment THEN 0 ELSE payment_failures END,
        first_failed_at = CASE WHEN NEW.payment THEN NULL ELSE first_failed_at END
    WHERE id = NEW.end_user_id;
END;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on_sqlite(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Open episodes take their end users' counts back first: the old failure trigger
        // counts in the episode again.
        let down = [
            "UPDATE dunning_episodes SET \
                failures = MAX(failures, COALESCE((SELECT payment_failures FROM end_users \
                    WHERE id = dunning_episodes.end_user_id), 0)), \
                last_failed_at = COALESCE((SELECT last_failed_at FROM end_users \
                    WHERE id = dunning_episodes.end_user_id), last_failed_at) \
             WHERE recovered_at IS NULL;",
            "DROP TRIGGER IF EXISTS payment_health_failure;",
            "DROP TRIGGER IF EXISTS payment_health_success;",
            FAILURE_TRIGGER,
            SUCCESS_TRIGGER,
        ]
        .join("\n");
        run_on_sqlite(manager, &down).await
    }
}

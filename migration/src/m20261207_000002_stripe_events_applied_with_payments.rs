//! SQLite only: a Stripe payment event is marked applied in the payment-health group commit
//! that applies it, so that a crash between the two can never apply it twice. A row of kind
//! `stripe_event_applied` in the view `payment_health_events`
//! (`m20261130_000003_payment_health_events`) names the event's row in `stripe_events` in its
//! `payload`. PostgreSQL does the same in its payment-health statement.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261130_000003_payment_health_events::run_on;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "\
CREATE TRIGGER payment_health_stripe_event_applied INSTEAD OF INSERT ON payment_health_events \
WHEN NEW.kind = 'stripe_event_applied' BEGIN
    UPDATE stripe_events SET applied_at = NEW.at WHERE id = CAST(NEW.payload AS INTEGER);
END;";

const DOWN: &str = "DROP TRIGGER IF EXISTS payment_health_stripe_event_applied;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_on(DbBackend::Sqlite, manager, DOWN).await
    }
}

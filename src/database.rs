//! Connecting to SQLite or PostgreSQL, and migrating.
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous as Synchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::{DatabaseSettings, SqliteSynchronous};

#[tracing::instrument(skip_all)]
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let synchronous = match settings.sqlite_synchronous {
        SqliteSynchronous::Normal => Synchronous::Normal,
        SqliteSynchronous::Full => Synchronous::Full,
    };
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .sqlx_logging(false)
        // WAL lets readers run beside the writer; waiting on a lock beats failing on it.
        // In WAL mode `synchronous = NORMAL` fsyncs at checkpoints instead of at every
        // commit (SQLite's recommended pairing); `database.sqlite_synchronous = "full"`
        // restores an fsync per commit.
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await.with_context(|| {
        format!(
            "could not connect to the database at {}",
            redact(&settings.url)
        )
    })
}

#[tracing::instrument(skip_all)]
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("could not apply database migrations")
}

/// Hides a password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

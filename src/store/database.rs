//! Connecting to SQLite or PostgreSQL, and migrating.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnection, SqliteJournalMode, SqliteSynchronous as Synchronous,
};
use sea_orm::sqlx::{self, Connection};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    Value,
};

use crate::config::{DatabaseSettings, SqliteSynchronous};

/// With the background checkpointer, a commit checkpoints the WAL itself only past this many
/// pages: a backstop for when that task is stuck (SQLite's default is 1,000).
const BACKSTOP_CHECKPOINT_PAGES: u32 = 100_000;
/// Size the WAL file is cut back to after it has started over.
const WAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// The checkpointer starts the WAL over once it holds this many pages, all copied.
const RESTART_AT_PAGES: i64 = 4_000;
/// How long the checkpointer waits for the writer and readers before starting the WAL over;
/// new writers wait while it does, so this bounds the pause it can cause.
const RESTART_PATIENCE: Duration = Duration::from_millis(5);

/// Prepared statements a PostgreSQL connection keeps (sqlx's default is 100).
const PREPARED_PER_CONNECTION: usize = 1_000;

/// How long a pooled connection may sit idle before it is pinged on checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

fn options(
    settings: &DatabaseSettings,
    pool_size: u32,
    busy_timeout: Duration,
    autocheckpoint: u32,
) -> ConnectOptions {
    let synchronous = match settings.sqlite_synchronous {
        SqliteSynchronous::Normal => Synchronous::Normal,
        SqliteSynchronous::Full => Synchronous::Full,
    };
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(pool_size)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        .sqlx_logging(false)
        // A connection in steady use is not pinged before each statement (a round trip to
        // the server, or to SQLite's worker thread, every time); one idle long enough for a
        // server, proxy or firewall to have dropped it still is.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        // WAL lets readers run beside the writer; waiting on a lock beats failing on it.
        // In WAL mode `synchronous = NORMAL` fsyncs at checkpoints instead of at every
        // commit (SQLite's recommended pairing); `database.sqlite_synchronous = "full"`
        // restores an fsync per commit.
        // Batches of many sizes (the ledger's, the group commits') are many statement texts;
        // sqlx's default of 100 prepared per connection evicted them from one another, and
        // PostgreSQL parsed and planned most of the ledger's statements again each time.
        .map_sqlx_postgres_opts(|opts| opts.statement_cache_capacity(PREPARED_PER_CONNECTION))
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
                .pragma("wal_autocheckpoint", autocheckpoint.to_string())
                .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
                // Statement journals (a multi-row statement inside a transaction) past 64 KiB
                // went to a file in /var/tmp, created and unlinked dozens of times a second
                // under load; they are small and short-lived, so memory holds them.
                .pragma("temp_store", "memory")
                // 1 MiB of page cache per connection instead of SQLite's 2 MiB: a commit by
                // another connection empties it anyway, so the larger one bought no speed
                // and cost ~5 MB across the pool (SQLite allocates it outside our allocator).
                .pragma("cache_size", "-1024")
        });
    options
}

/// A time as the backend stores it, for statements built by hand: sqlx binds chrono times
/// to SQLite as RFC 3339 text, so a time SeaQuery renders for SQLite must be that same text
/// (it would write it another way).
pub fn stored_time(backend: DbBackend, time: DateTime<Utc>) -> Value {
    match backend {
        DbBackend::Sqlite => sqlite_time(time).into(),
        _ => time.into(),
    }
}

/// A time as SQLite stores it (see `stored_time`).
pub fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A statement sent through sqlx itself failed: the error as SeaORM reports it.
pub fn sqlx_failure(e: sqlx::Error) -> DbErr {
    DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into()))
}

/// SQLite: runs `script`, a whole transaction (one writing statement, or `BEGIN IMMEDIATE` to
/// `COMMIT`), in one call to the connection the writers' turns keep (see `WriteTurns`), during
/// this writer's turn; a script that fails is rolled back.
pub async fn sqlite_transaction<'q>(
    db: &DatabaseConnection,
    turns: &WriteTurns,
    script: impl sqlx::Execute<'q, sqlx::Sqlite> + 'q,
) -> Result<(), DbErr> {
    let Some(mut turn) = turns.take().await else {
        return Err(DbErr::Custom("SQLite writes need writers' turns".into()));
    };
    sqlite_transaction_in_turn(db, &mut turn, script)
        .await
        .map(|_| ())
}

/// SQLite: as `sqlite_transaction`, in a turn the writer already holds; answers the rows the
/// script returns.
pub async fn sqlite_transaction_in_turn<'q>(
    db: &DatabaseConnection,
    turn: &mut WriteTurn,
    script: impl sqlx::Execute<'q, sqlx::Sqlite> + 'q,
) -> Result<Vec<sqlx::sqlite::SqliteRow>, DbErr> {
    let conn_err = |e: sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    // The turns keep one connection for these scripts (see `WriteTurns`).
    let conn = match turn.as_mut() {
        Some(conn) => conn,
        None => {
            let fresh = db
                .get_sqlite_connection_pool()
                .acquire()
                .await
                .map_err(conn_err)?
                .detach();
            turn.insert(fresh)
        }
    };
    let run = sqlx::Executor::fetch_all(&mut *conn, script).await;
    if run.is_err() {
        // A statement failed inside the transaction: undo it (a single statement has undone
        // itself, and left no transaction open); a connection that cannot be rolled back is
        // closed instead.
        if let Err(rollback) = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await {
            let none_open = rollback
                .as_database_error()
                .is_some_and(|d| d.message().contains("no transaction is active"));
            if !none_open {
                turn.take();
            }
        }
    }
    run.map_err(sqlx_failure)
}

pub fn is_sqlite(settings: &DatabaseSettings) -> bool {
    settings.url.starts_with("sqlite:")
}

fn background_checkpoints(settings: &DatabaseSettings) -> bool {
    let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
    is_sqlite(settings) && !in_memory && settings.sqlite_checkpoint_interval_ms > 0
}

#[tracing::instrument(skip_all)]
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    // Checkpoints run in the background (`start_checkpointer`), not in commits.
    let autocheckpoint = if background_checkpoints(settings) {
        BACKSTOP_CHECKPOINT_PAGES
    } else {
        1_000
    };
    let pool_size = if is_sqlite(settings) {
        settings.sqlite_max_connections
    } else {
        settings.max_connections
    };
    let options = options(settings, pool_size, Duration::from_secs(10), autocheckpoint);
    Database::connect(options).await.with_context(|| {
        format!(
            "could not connect to the database at {}",
            redact(&settings.url)
        )
    })
}

/// SQLite lets one transaction write at a time; a writer that finds the lock taken sleeps and
/// retries (1, 2, 5, 10 ms …), and beside a steady stream of another writer's commits it can
/// lose retry after retry (intercepts measured 0.4–0.8 k req/s, p99 0.3–0.7 s, beside dunning
/// traffic). The hot writers of this process — the group commits and the WAL restart — take
/// turns here instead, first come first served. PostgreSQL locks rows, not the database: no
/// turns there.
///
/// The turns also keep the connection that `transaction`'s scripts run on, outside the pool:
/// a commit empties every other connection's page cache, so on pooled connections each
/// payment-health transaction read the tables' upper pages again (one connection for them:
/// dunning 20.2 k → 24.6 k req/s, success signals 24.8 k → 26.8 k).
///
/// On PostgreSQL they keep a small pool of their own instead, for the group commits'
/// statements of one fixed text that take a batch as arrays (`group_commit_pool`): payment
/// health's, and the outcome recorder's impressions, outcomes and reasons. Its connections
/// always use the generic plan: PostgreSQL otherwise compares that plan, costed for arrays of
/// ten, with plans made for each batch's actual arrays (often empty for one part), keeps
/// re-planning at every execution (a quarter of its CPU under a stream of payment failures;
/// dunning +12 % req/s with the generic plan), and never settles. A generic plan is kept for
/// the connection's life, so these connections also plan without sequential scans
/// (`enable_seqscan = off`): a plan made while a table was empty (a new database's dunning
/// episodes) otherwise read every row of it at each commit once it had grown, until an
/// ANALYZE replaced the plan (on a new database PostgreSQL CPU per payment failure
/// 212–232 µs and dunning 2.9–3.9 k req/s; 62–77 µs and 7.1–9.5 k without sequential
/// scans). Each of their statements finds its rows through an index. The pool serves only
/// those statements: elsewhere a custom plan can be the better one (a partial index whose
/// condition a bound value meets, say).
///
/// Impressions-only batches have a pool of their own too, whose connections commit without
/// waiting for the WAL flush unless `database.postgres_durable_impressions` is set
/// (`impression_pool`): an impression is the record of what an intercept showed, and an
/// intercept on the click path waited on that flush for most of its time (PostgreSQL intercept
/// 22.3–22.6 k → 26.6–26.7 k req/s, two A/B rounds). A crash of the PostgreSQL server (not of
/// this service) can then lose the impressions of its last ~0.6 s (three times
/// `wal_writer_delay`); the database stays consistent, and nothing else is written there.
///
/// End users looked up, created or completed in batches have one more such pool, which never
/// waits for the flush (`identity_pool`): an end user is written before the request's own row (the
/// impression, outcome, reason, payment event or application that names it), and the commit
/// that makes that row durable flushes the WAL past the end user's, which came first. Until
/// then nothing durable refers to it, so a crash of the server that loses it loses nothing
/// anyone was told was recorded; a first sighting no longer waits for two flushes in turn.
#[derive(Clone)]
pub struct WriteTurns {
    sqlite: Option<Arc<tokio::sync::Mutex<Option<SqliteConnection>>>>,
    group_commits: Option<PgPool>,
    impressions: Option<PgPool>,
    identities: Option<PgPool>,
}

/// A writer's turn; lasts until dropped.
pub type WriteTurn = tokio::sync::OwnedMutexGuard<Option<SqliteConnection>>;

impl WriteTurns {
    /// Connects nothing yet: the PostgreSQL pool opens its connections on first use.
    pub fn for_database(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        if is_sqlite(settings) {
            return Ok(WriteTurns {
                sqlite: Some(Arc::new(tokio::sync::Mutex::new(None))),
                group_commits: None,
                impressions: None,
                identities: None,
            });
        }
        let options = PgConnectOptions::from_str(&settings.url)
            .with_context(|| format!("invalid database URL {}", redact(&settings.url)))?
            .statement_cache_capacity(PREPARED_PER_CONNECTION)
            .options([
                ("plan_cache_mode", "force_generic_plan"),
                ("enable_seqscan", "off"),
            ]);
        let in_flight = settings.postgres_commits_in_flight.max(1);
        // One connection per group commit in flight: payment health's and the outcome
        // recorder's.
        let group_commits = group_commit_pool(settings, options.clone(), 2 * in_flight);
        let unflushed = options.clone().options([("synchronous_commit", "off")]);
        let impressions = (!settings.postgres_durable_impressions)
            .then(|| group_commit_pool(settings, unflushed.clone(), in_flight));
        // The DunningTracker's lookup batch (which creates end users) and its identity group
        // commit, one of each in flight.
        let identities = Some(group_commit_pool(settings, unflushed, 2));
        Ok(WriteTurns {
            sqlite: None,
            group_commits: Some(group_commits),
            impressions,
            identities,
        })
    }

    /// Waits for this writer's turn; it lasts until the guard is dropped.
    pub async fn take(&self) -> Option<WriteTurn> {
        match &self.sqlite {
            Some(turns) => Some(turns.clone().lock_owned().await),
            None => None,
        }
    }

    /// PostgreSQL: the pool for group commits of one fixed statement text (see above).
    pub fn group_commit_pool(&self) -> Option<&PgPool> {
        self.group_commits.as_ref()
    }

    /// PostgreSQL: the pool for batches of end users created or completed (see above).
    pub fn identity_pool(&self) -> Option<&PgPool> {
        self.identities.as_ref()
    }

    /// PostgreSQL: the pool for batches of impressions alone; the group commits' own when
    /// impressions are to wait for the WAL flush (see above).
    pub fn impression_pool(&self) -> Option<&PgPool> {
        self.impressions.as_ref().or(self.group_commits.as_ref())
    }
}

/// A small lazily connected pool for the group commits' statements.
fn group_commit_pool(
    settings: &DatabaseSettings,
    options: PgConnectOptions,
    size: usize,
) -> PgPool {
    PgPoolOptions::new()
        .max_connections(u32::try_from(size).unwrap_or(u32::MAX))
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        // As the main pool: ping only a connection idle long enough to have been dropped.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}

/// SQLite: checkpoints the WAL from a background task every
/// `database.sqlite_checkpoint_interval_ms`, on a connection of its own. Left to SQLite,
/// the commit that crosses 1,000 WAL pages copies them into the database and fsyncs it
/// while every request waiting on that commit waits too (it set intercept's p99). Nothing
/// for PostgreSQL, an in-memory database, or when the interval is 0.
pub async fn start_checkpointer(
    settings: &DatabaseSettings,
    turns: WriteTurns,
) -> anyhow::Result<()> {
    if !background_checkpoints(settings) {
        return Ok(());
    }
    let options = options(settings, 1, RESTART_PATIENCE, BACKSTOP_CHECKPOINT_PAGES);
    let db = Database::connect(options)
        .await
        .context("could not open the WAL checkpointer's connection")?;
    let file = database_file(&db)
        .await
        .context("could not find the SQLite database file")?;
    let interval = Duration::from_millis(settings.sqlite_checkpoint_interval_ms);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = checkpoint(&db, &file, &turns).await {
                tracing::warn!(error = %e, "background WAL checkpoint failed");
            }
        }
    });
    Ok(())
}

/// A passive checkpoint copies what it can without waiting for anyone. The WAL only starts
/// over once everything in it has been copied and no reader still uses it, which under a
/// steady stream of commits a passive checkpoint never sees; so once it has grown past
/// `RESTART_AT_PAGES`, all copied, a RESTART checkpoint starts it over. It waits at most
/// `RESTART_PATIENCE` for the readers (else it was only a passive checkpoint and the next tick
/// tries again); it takes a writers' turn, so that while it copies the last frames and syncs,
/// this process's writers wait in line rather than in SQLite's sleeps (about 30 ms on the
/// benchmark machine, every few seconds under sustained load, where SQLite's own checkpoints
/// put a copy of 1,000 pages inside a commit about every 0.1 s).
///
/// SQLite syncs the database file after a passive checkpoint only if no commit arrived while it
/// copied, which under load never holds: the restart would then flush every page the passive
/// checkpoint copied (megabytes; 5–20 ms measured) while it holds the writers' turn. The file
/// is synced first, outside the turn, and what was committed meanwhile is copied by a second
/// passive checkpoint, so that the restart flushes only what it copies itself.
async fn checkpoint(db: &DatabaseConnection, file: &Path, turns: &WriteTurns) -> Result<(), DbErr> {
    let statement = |sql: &str| Statement::from_string(DbBackend::Sqlite, sql);
    let passive = db
        .query_one_raw(statement("PRAGMA wal_checkpoint(PASSIVE)"))
        .await?;
    let Some(row) = passive else { return Ok(()) };
    let log: i64 = row.try_get_by_index(1)?;
    let copied: i64 = row.try_get_by_index(2)?;
    if log >= RESTART_AT_PAGES && copied == log {
        let path = file.to_owned();
        let synced = tokio::task::spawn_blocking(move || File::open(path)?.sync_data()).await;
        if let Ok(Err(e)) = synced {
            tracing::warn!(error = %e, "syncing the database file before a WAL restart failed");
        }
        // Commits went on while the file synced: their frames are copied too, still outside
        // the turn, so that the restart copies and syncs only what arrives from here on.
        db.query_one_raw(statement("PRAGMA wal_checkpoint(PASSIVE)"))
            .await?;
        let _turn = turns.take().await;
        db.execute_unprepared("PRAGMA wal_checkpoint(RESTART)")
            .await?;
    }
    Ok(())
}

/// The file of the connection's main database, as SQLite resolved it.
async fn database_file(db: &DatabaseConnection) -> Result<PathBuf, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA database_list",
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get_by_index(1)?;
        if name == "main" {
            return Ok(PathBuf::from(row.try_get_by_index::<String>(2)?));
        }
    }
    Err(DbErr::Custom("no main database".to_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch SQLite database file with one table (`sqlite_transaction` is SQLite's alone).
    async fn scratch() -> (DatabaseConnection, PathBuf) {
        let name = format!("saveloops_t_txn_{:016x}.db", rand::random::<u64>());
        let path = std::env::temp_dir().join(name);
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)")
            .await
            .unwrap();
        (db, path)
    }

    /// Closes the scratch database and removes its files.
    async fn discard(db: DatabaseConnection, path: PathBuf) {
        db.close().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }

    /// A transaction of fixed text with its rows bound as a JSON array, as payment health's.
    fn insert(
        rows: &[(i64, &str)],
    ) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
        sqlx::query(
            "BEGIN IMMEDIATE; \
             INSERT INTO t (id, note) SELECT r.value ->> 0, r.value ->> 1 FROM json_each(?1) AS r; \
             COMMIT;",
        )
        .bind(serde_json::json!(rows).to_string())
    }

    #[tokio::test]
    async fn a_transaction_keeps_values_whole_and_undoes_itself_when_a_statement_fails() {
        let (db, path) = scratch().await;
        let turns = WriteTurns {
            sqlite: Some(Arc::default()),
            group_commits: None,
            impressions: None,
            identities: None,
        };
        let notes = [
            "it's",
            "a\\b \"quoted\" ; DROP TABLE t; -- \\' E'\\x' $$ $1",
            "nul\0inside",
        ];
        sqlite_transaction(
            &db,
            &turns,
            insert(&[(1, notes[0]), (2, notes[1]), (3, notes[2])]),
        )
        .await
        .unwrap();
        // The second row breaks the primary key: the first is undone with it.
        assert!(
            sqlite_transaction(&db, &turns, insert(&[(5, "undone"), (1, "again")]))
                .await
                .is_err()
        );
        // A single statement that fails undoes itself; the kept connection stays.
        let single = sqlx::query("INSERT INTO t (id, note) VALUES (1, 'again')");
        assert!(sqlite_transaction(&db, &turns, single).await.is_err());
        let kept = turns.take().await.expect("SQLite has turns");
        assert!(kept.is_some(), "the kept connection was closed");
        drop(kept);
        // The kept connection was not left inside a transaction.
        for id in 6..20 {
            sqlite_transaction(&db, &turns, insert(&[(id, "later")]))
                .await
                .unwrap();
        }
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT id, note FROM t ORDER BY id",
            ))
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| r.try_get("", "id").unwrap()).collect();
        let mut expected = vec![1, 2, 3];
        expected.extend(6..20);
        assert_eq!(ids, expected);
        for (row, note) in rows.iter().zip(notes) {
            assert_eq!(row.try_get::<String>("", "note").unwrap(), note);
        }
        drop(turns);
        discard(db, path).await;
    }

    /// A setting as a connection of `pool` has it.
    async fn setting(pool: &PgPool, name: &str) -> String {
        sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(pool)
            .await
            .unwrap()
    }

    /// PostgreSQL only (SAVELOOPS_TEST_POSTGRES_URL, as the API tests): impressions commit
    /// without waiting for the WAL flush unless told to, end users never wait; the other
    /// group commits always do.
    /// Both kinds of connection keep generic plans that never scan a whole table.
    #[tokio::test]
    async fn group_commits_plan_generically_without_scans_and_only_impressions_and_end_users_skip_the_wal_flush(
    ) {
        let Ok(url) = std::env::var("SAVELOOPS_TEST_POSTGRES_URL") else {
            return;
        };
        for durable in [false, true] {
            let settings = DatabaseSettings {
                url: url.clone(),
                max_connections: 2,
                acquire_timeout_seconds: 5,
                sqlite_synchronous: SqliteSynchronous::Normal,
                sqlite_max_connections: 1,
                sqlite_checkpoint_interval_ms: 0,
                postgres_commits_in_flight: 1,
                postgres_durable_impressions: durable,
            };
            let turns = WriteTurns::for_database(&settings).unwrap();
            let group_commits = turns.group_commit_pool().unwrap();
            let impressions = turns.impression_pool().unwrap();
            let identities = turns.identity_pool().unwrap();
            assert_eq!(setting(group_commits, "synchronous_commit").await, "on");
            let expected = if durable { "on" } else { "off" };
            assert_eq!(setting(impressions, "synchronous_commit").await, expected);
            // End users never wait: the rows that name them flush the WAL past them.
            assert_eq!(setting(identities, "synchronous_commit").await, "off");
            for pool in [group_commits, impressions, identities] {
                assert_eq!(setting(pool, "plan_cache_mode").await, "force_generic_plan");
                assert_eq!(setting(pool, "enable_seqscan").await, "off");
            }
            group_commits.close().await;
            impressions.close().await;
            identities.close().await;
        }
    }
}

//! Backends for the suite, each isolated per test and cleaned up on drop
//! (also when the test panics), plus handlers and an observer to drive the
//! worker.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::{MigrationTrait, SchemaManager};
use tokio::sync::Notify;
use workers::{
    DatabaseQueue, Job, JobHandler, JobOutcome, NewJob, Queue, QueueObserver, RedisQueue,
    RetryConfig, RetryPolicy, WorkerConfig, WorkerPool,
};

pub const REDIS_URL_VAR: &str = "SAVELOOPS_TEST_REDIS_URL";
pub const POSTGRES_URL_VAR: &str = "SAVELOOPS_TEST_POSTGRES_URL";

/// A queue for one test; dropping it removes everything the test stored.
pub struct Backend {
    pub queue: Arc<dyn Queue>,
    _cleanup: Cleanup,
}

enum Cleanup {
    Redis { url: String, prefix: String },
    SqliteFile(PathBuf),
    PostgresSchema { url: String, schema: String },
}

/// A name no other test (in this or a concurrent run) uses.
fn unique_name() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        Utc::now().timestamp_micros()
    )
}

pub async fn redis() -> Option<Backend> {
    let url = std::env::var(REDIS_URL_VAR).unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("saveloops:test:{}:", unique_name());
    let queue = RedisQueue::connect(&url, prefix.clone())
        .await
        .unwrap_or_else(|e| panic!("Redis must be running at {url} (set {REDIS_URL_VAR}): {e:?}"));
    Some(Backend {
        queue: Arc::new(queue),
        _cleanup: Cleanup::Redis { url, prefix },
    })
}

pub async fn sqlite() -> Option<Backend> {
    let path = std::env::temp_dir().join(format!("saveloops-queue-{}.db", unique_name()));
    let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("open SQLite file");
    migrate(&db).await;
    Some(Backend {
        queue: Arc::new(DatabaseQueue::new(db)),
        _cleanup: Cleanup::SqliteFile(path),
    })
}

pub async fn postgres() -> Option<Backend> {
    let Ok(url) = std::env::var(POSTGRES_URL_VAR) else {
        eprintln!("{POSTGRES_URL_VAR} is not set; skipping the PostgreSQL backend");
        return None;
    };
    let schema = format!("queue_test_{}", unique_name());
    let admin = Database::connect(&url)
        .await
        .expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("create test schema");
    admin.close().await.ok();

    let mut options = ConnectOptions::new(url.clone());
    options
        .set_schema_search_path(schema.clone())
        .max_connections(8)
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .expect("connect to test schema");
    migrate(&db).await;
    Some(Backend {
        queue: Arc::new(DatabaseQueue::new(db)),
        _cleanup: Cleanup::PostgresSchema { url, schema },
    })
}

/// Applies the queue migration alone: the workspace Migrator belongs to the
/// service and may list other tables.
async fn migrate(db: &DatabaseConnection) {
    migration::m20261125_000100_create_queue_jobs::Migration
        .up(&SchemaManager::new(db))
        .await
        .expect("apply queue migration");
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Redis { url, prefix } => {
                let removed = (|| -> redis::RedisResult<()> {
                    let mut conn = redis::Client::open(url.as_str())?.get_connection()?;
                    let keys: Vec<String> = conn
                        .scan_match::<_, String>(format!("{prefix}*"))?
                        .collect::<Result<_, _>>()?;
                    if !keys.is_empty() {
                        redis::cmd("DEL").arg(keys).query::<()>(&mut conn)?;
                    }
                    Ok(())
                })();
                if let Err(e) = removed {
                    eprintln!("could not clean up Redis keys {prefix}*: {e}");
                }
            }
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PostgresSchema { url, schema } => {
                // Drop runs inside the test's runtime, which cannot be
                // blocked on; a separate thread gets a runtime of its own.
                let (url, schema) = (url.clone(), schema.clone());
                let dropped = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("cleanup runtime")
                        .block_on(async {
                            let db = Database::connect(&url).await?;
                            db.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                                .await?;
                            db.close().await
                        })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop test schema: {dropped:?}");
                }
            }
        }
    }
}

use redis::Commands as _;

/// A job with a small payload, due now.
pub fn new_job(id: &str, kind: &str) -> NewJob {
    NewJob::new(id, kind, serde_json::json!({ "id": id, "amount": 42 }))
}

pub fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

pub fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A lease no test outlives.
pub const LONG_LEASE: Duration = Duration::from_secs(3600);

/// How long a test waits for something that should happen promptly.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// Polls `probe` until it yields a value or `DEADLINE` passes.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Claims until the queue hands something out.
pub async fn claim_eventually(queue: &dyn Queue, max: usize, lease: Duration) -> Vec<Job> {
    eventually("a claimable job", || async move {
        let jobs = queue.claim(max, lease).await.expect("claim");
        (!jobs.is_empty()).then_some(jobs)
    })
    .await
}

/// Retries fast and without jitter, so tests wait milliseconds.
pub fn quick_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy::new(RetryConfig {
        initial_interval_ms: 1,
        multiplier: 2.0,
        max_interval_ms: 10,
        max_attempts,
        randomization_factor: 0.0,
    })
}

pub fn pool(
    queue: Arc<dyn Queue>,
    policy: RetryPolicy,
    handlers: Vec<(&str, Arc<dyn JobHandler>)>,
    config: WorkerConfig,
    observer: Arc<CountingObserver>,
) -> WorkerPool {
    let handlers: HashMap<String, Arc<dyn JobHandler>> = handlers
        .into_iter()
        .map(|(kind, handler)| (kind.to_owned(), handler))
        .collect();
    WorkerPool::new(queue, policy, handlers, config).with_observer(observer)
}

pub fn test_config(lease: Duration) -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        lease,
        poll_interval: Duration::from_millis(20),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// Runs `run_once` until `done` holds.
pub async fn drive_until<F, Fut>(pool: &WorkerPool, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually(what, || {
        let check = done();
        async move {
            pool.run_once().await.expect("run_once");
            check.await.then_some(())
        }
    })
    .await
}

#[derive(Default)]
pub struct CountingObserver {
    pub started: AtomicUsize,
    pub succeeded: AtomicUsize,
    pub retried: AtomicUsize,
    pub failed: AtomicUsize,
    pub dead: AtomicUsize,
}

impl CountingObserver {
    pub fn counts(&self) -> [usize; 5] {
        [
            self.started.load(Ordering::SeqCst),
            self.succeeded.load(Ordering::SeqCst),
            self.retried.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            self.dead.load(Ordering::SeqCst),
        ]
    }
}

impl QueueObserver for CountingObserver {
    fn job_started(&self, _job: &Job) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }
    fn job_succeeded(&self, _job: &Job, _elapsed: Duration) {
        self.succeeded.fetch_add(1, Ordering::SeqCst);
    }
    fn job_retried(&self, _job: &Job, _delay: Duration, _error: &str) {
        self.retried.fetch_add(1, Ordering::SeqCst);
    }
    fn job_failed(&self, _job: &Job, _error: &str) {
        self.failed.fetch_add(1, Ordering::SeqCst);
    }
    fn job_dead(&self, _job: &Job, _error: &str) {
        self.dead.fetch_add(1, Ordering::SeqCst);
    }
}

/// Fails with `Retry` `failures` times, then succeeds; records attempts.
pub struct Flaky {
    failures: AtomicU32,
    pub attempts_seen: Mutex<Vec<u32>>,
}

impl Flaky {
    pub fn new(failures: u32) -> Arc<Self> {
        Arc::new(Self {
            failures: AtomicU32::new(failures),
            attempts_seen: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl JobHandler for Flaky {
    async fn handle(&self, job: &Job) -> JobOutcome {
        self.attempts_seen.lock().unwrap().push(job.attempts);
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            JobOutcome::Retry(format!("flaky, {left} failures left"))
        } else {
            JobOutcome::Done
        }
    }
}

/// Always fails transiently; records what `on_dead` got.
#[derive(Default)]
pub struct AlwaysRetry {
    pub deaths: Mutex<Vec<(String, u32, String)>>,
}

#[async_trait]
impl JobHandler for AlwaysRetry {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        JobOutcome::Retry("upstream unavailable".into())
    }

    async fn on_dead(&self, job: &Job, error: &str) {
        self.deaths
            .lock()
            .unwrap()
            .push((job.id.clone(), job.attempts, error.to_owned()));
    }
}

/// Panics on the first attempt, succeeds afterwards.
#[derive(Default)]
pub struct PanicsOnce {
    pub attempts_seen: Mutex<Vec<u32>>,
}

#[async_trait]
impl JobHandler for PanicsOnce {
    async fn handle(&self, job: &Job) -> JobOutcome {
        self.attempts_seen.lock().unwrap().push(job.attempts);
        if job.attempts == 1 {
            panic!("handler bug on attempt 1");
        }
        JobOutcome::Done
    }
}

/// Returns `Fail` right away.
#[derive(Default)]
pub struct Rejects {
    pub deaths: AtomicUsize,
}

#[async_trait]
impl JobHandler for Rejects {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        JobOutcome::Fail("offer no longer valid".into())
    }

    async fn on_dead(&self, _job: &Job, _error: &str) {
        self.deaths.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts jobs and finishes them at once.
#[derive(Default)]
pub struct Counts {
    pub handled: AtomicUsize,
}

#[async_trait]
impl JobHandler for Counts {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.handled.fetch_add(1, Ordering::SeqCst);
        JobOutcome::Done
    }
}

/// Holds every job until the gate opens (never, unless the test opens it).
#[derive(Default)]
pub struct Gated {
    pub started: AtomicUsize,
    pub gate: Notify,
}

#[async_trait]
impl JobHandler for Gated {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.started.fetch_add(1, Ordering::SeqCst);
        self.gate.notified().await;
        JobOutcome::Done
    }
}

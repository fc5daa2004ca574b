//! Configuration: `config.toml` (or `--config PATH`), overridden by `SAVELOOPS_<SECTION>__<KEY>`.
use std::path::Path;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The defaults shipped in the repository, compiled in so that the binary runs anywhere.
const DEFAULTS: &str = include_str!("../config.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub debug: bool,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub cache: CacheSettings,
    pub log: LogSettings,
    pub security: SecuritySettings,
    pub stripe: StripeSettings,
    pub queue: QueueSettings,
    pub admin: AdminSettings,
    pub metrics: MetricsSettings,
    pub rate_limit: RateLimitSettings,
    pub sentiment: SentimentSettings,
    #[serde(default)]
    pub dashboard: DashboardSettings,
}

/// The team's dashboard (`/app`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DashboardSettings {
    /// Take the client's address (which failed sign-ins are counted against) from the first
    /// entry of `X-Forwarded-For`: only behind a proxy that sets it. Otherwise the socket's.
    #[serde(default)]
    pub trust_forwarded_for: bool,
}

/// Reading cancellation reasons (`POST /api/v1/intercept/sentiment`).
#[derive(Debug, Clone, Deserialize)]
pub struct SentimentSettings {
    /// A `support` reading opens a ticket only at this confidence or above (0 to 1); below
    /// it no ticket is opened and analytics counts the reason as low confidence.
    pub ticket_min_confidence: f64,
}

/// The operator API (`/api/v1/admin/...`).
#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    /// Bearer token of the operator API; empty disables the API (404).
    #[serde(default)]
    pub token: String,
}

/// `GET /metrics`.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// When set, `/metrics` requires `Authorization: Bearer <token>`; empty leaves it open
    /// (then keep it off the public network).
    #[serde(default)]
    pub token: String,
    /// Queue figures are read from the queue at most this often (scrapes in between reuse
    /// the last reading).
    pub queue_sample_seconds: u64,
}

/// Requests per API key (a token bucket; see `http::rate_limit`).
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    /// Sustained requests per second per key; 0 turns rate limiting off.
    pub requests_per_second: f64,
    /// Requests a key may make at once on top of the sustained rate (the bucket size).
    pub burst: u32,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    #[default]
    Normal,
    Full,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    /// Base64 of 32 random bytes; when unset, `master_key_file` is used (and created).
    #[serde(default)]
    pub master_key: Option<String>,
    pub master_key_file: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeSettings {
    pub api_base: String,
    pub timeout_seconds: u64,
    /// How long Stripe keeps idempotency keys; a retry older than this first reads the
    /// subscription to see whether the change already landed.
    pub idempotency_window_seconds: i64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    Database,
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueueSettings {
    pub backend: QueueBackend,
    pub redis_url: String,
    /// Namespace of the queue's Redis keys.
    pub key_prefix: String,
    /// Jobs one worker process runs at once.
    pub concurrency: usize,
    pub lease_seconds: u64,
    pub poll_interval_ms: u64,
    /// How often the ledger is compared with the queue (restores jobs Redis lost).
    pub reconcile_interval_seconds: u64,
    /// Seconds to let running jobs finish on shutdown before releasing them.
    pub shutdown_grace_seconds: u64,
    pub retry: workers::RetryConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub shutdown_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_seconds: u64,
    /// SQLite only: `normal` (WAL's recommended setting: a commit survives a crash of the
    /// process, and may be lost with the last few others on a power failure or OS crash)
    /// or `full` (every commit waits for fsync).
    #[serde(default)]
    pub sqlite_synchronous: SqliteSynchronous,
    /// SQLite only: the pool's size there (SQLite has one writer, so more connections only
    /// add threads and page caches; `max_connections` is PostgreSQL's).
    #[serde(default = "default_sqlite_max_connections")]
    pub sqlite_max_connections: u32,
    /// SQLite only: how often a background task checkpoints the WAL (0: each commit that
    /// crosses 1,000 WAL pages does it, SQLite's default).
    #[serde(default = "default_checkpoint_interval_ms")]
    pub sqlite_checkpoint_interval_ms: u64,
    /// PostgreSQL only: group commits of one kind (impressions and outcomes; payment health)
    /// in flight at once. SQLite has one writer, so it gets one.
    #[serde(default = "default_postgres_commits_in_flight")]
    pub postgres_commits_in_flight: usize,
    /// PostgreSQL only: whether a batch of impressions waits for PostgreSQL to flush its WAL
    /// to disk before the intercepts are answered (`synchronous_commit`). Outcomes, payment
    /// events, reasons and tickets always wait.
    #[serde(default)]
    pub postgres_durable_impressions: bool,
}

fn default_postgres_commits_in_flight() -> usize {
    1
}

fn default_sqlite_max_connections() -> u32 {
    5
}

fn default_checkpoint_interval_ms() -> u64 {
    250
}

#[derive(Debug, Clone, Deserialize)]
pub struct CacheSettings {
    pub ttl_seconds: u64,
    /// How long end users are trusted from memory while this instance hears every
    /// instance's changes to them (0: only `ttl_seconds`).
    #[serde(default = "default_announced_ttl_seconds")]
    pub announced_ttl_seconds: u64,
    /// Most end users held in memory (about 43 bytes each once used).
    #[serde(default = "default_max_end_users")]
    pub max_end_users: usize,
}

fn default_max_end_users() -> usize {
    1_000_000
}

fn default_announced_ttl_seconds() -> u64 {
    600
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Settings {
    /// Compiled-in defaults, then `path` (or `./config.toml` when present), then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        match path {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "configuration file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("config.toml")),
        }
        let settings: Settings = figment
            .merge(Env::prefixed("SAVELOOPS_").split("__"))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        let bar = settings.sentiment.ticket_min_confidence;
        anyhow::ensure!(
            (0.0..=1.0).contains(&bar),
            "invalid configuration: sentiment.ticket_min_confidence must be between 0 and 1, \
             found {bar}"
        );
        Ok(settings)
    }
}

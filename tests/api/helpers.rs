//! Spawns the real application on port 0 against a fresh database, and offers one method
//! per endpoint.
use reqwest::{Client, Response};
use saveloops::config::Settings;
use saveloops::startup::Application;
use saveloops::store::tenants;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use saveloops::jobs::Workers;
use saveloops::store::applications::OfferApplier;
use saveloops::store::secrets::SecretBox;
use saveloops::store::tickets::TicketCourier;

/// Set to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run the suite
/// on PostgreSQL; each test then gets a database of its own.
pub const POSTGRES_ENV: &str = "SAVELOOPS_TEST_POSTGRES_URL";

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub client: Client,
    /// The first organization's key.
    pub key: String,
    pub organization_id: i64,
    pub applier: Arc<OfferApplier>,
    pub courier: Arc<TicketCourier>,
    /// The running actors, for messages no endpoint sends yet.
    pub actors: saveloops::actors::Actors,
}

fn unique_name() -> String {
    format!(
        "saveloops_t_{}_{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A database URL nobody else uses.
pub async fn fresh_database_url() -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(base) if !base.is_empty() => {
            let name = unique_name();
            let admin = Database::connect(&base)
                .await
                .expect("PostgreSQL (SAVELOOPS_TEST_POSTGRES_URL) must be reachable");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            let (server, _) = base.rsplit_once('/').expect("URL names a database");
            format!("{server}/{name}")
        }
        _ => {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name()));
            format!("sqlite://{}?mode=rwc", path.display())
        }
    }
}

pub async fn test_settings() -> Settings {
    let mut settings = Settings::load(None).expect("configuration loads");
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.database.url = fresh_database_url().await;
    settings.database.max_connections = 5;
    // A key per test: no key file is written into the working tree.
    settings.security.master_key = Some(BASE64.encode(rand::random::<[u8; 32]>()));
    settings.queue.key_prefix = format!("saveloops:test:{}", unique_name());
    if let Ok(url) = std::env::var("SAVELOOPS_TEST_REDIS_URL") {
        settings.queue.redis_url = url;
    }
    settings.queue.retry = workers::RetryConfig {
        initial_interval_ms: 5,
        multiplier: 2.0,
        max_interval_ms: 40,
        max_attempts: 5,
        randomization_factor: 0.0,
    };
    settings.stripe.timeout_seconds = 5;
    // Tests fire bursts far beyond a key's default allowance; `rate_limit.rs` turns it on.
    settings.rate_limit.requests_per_second = 0.0;
    settings
}

/// The Redis to test against, or None (then the test is skipped) when it cannot be reached
/// outside CI. With CI=true an unreachable Redis fails the test.
pub async fn test_redis_url() -> Option<String> {
    let url = std::env::var("SAVELOOPS_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let reachable = match redis::Client::open(url.as_str()) {
        Ok(client) => client.get_multiplexed_async_connection().await.is_ok(),
        Err(_) => false,
    };
    if reachable {
        return Some(url);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Redis at {url} is not reachable"
    );
    eprintln!("skipping: Redis at {url} is not reachable (set SAVELOOPS_TEST_REDIS_URL)");
    None
}

/// The Stripe key tests store for an organization (a test-mode key's shape).
pub const TEST_STRIPE_KEY: &str = "sk_test_saveloops_4eC39HqLyjWDarjtT1zdp7dc";

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(test_settings().await).await
    }

    /// The app with the fake Stripe behind it, the organization's Stripe key stored, and one
    /// subscription in Stripe: `sub_1` of customer `cus_1`.
    pub async fn with_stripe() -> (TestApp, crate::fake_stripe::FakeStripe) {
        let stripe = crate::fake_stripe::FakeStripe::start().await;
        stripe.add_subscription("sub_1", "cus_1", "si_1", "price_pro", None);
        let mut settings = test_settings().await;
        settings.stripe.api_base = stripe.base_url();
        let app = TestApp::spawn_with(settings).await;
        app.set_stripe_key(TEST_STRIPE_KEY).await;
        (app, stripe)
    }

    pub async fn spawn_with(settings: Settings) -> TestApp {
        let app = Application::build(settings.clone())
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let db = app.db.clone();
        let applier = app.applier.clone();
        let courier = app.courier.clone();
        let actors = app.actors.clone();
        actix_web::rt::spawn(app.run_until_stopped());
        let org = tenants::create_organization(&db, "Acme")
            .await
            .expect("organization created");
        TestApp {
            address,
            db,
            settings,
            client: Client::new(),
            key: org.api_key,
            organization_id: org.id,
            applier,
            courier,
            actors,
        }
    }

    /// Stores a Stripe key for the first organization.
    pub async fn set_stripe_key(&self, key: &str) {
        let secrets = SecretBox::load(&self.settings.security).unwrap();
        tenants::set_stripe_key(&self.db, &secrets, self.organization_id, key)
            .await
            .expect("stripe key stored");
    }

    /// A worker pool like `saveloops work` runs, to drive step by step.
    pub fn workers(&self) -> Workers {
        Workers::new(&self.settings, self.applier.clone(), self.courier.clone())
    }

    pub async fn apply_offer(&self, body: Value) -> Response {
        self.post("/api/v1/intercept/apply-offer", &body).await
    }

    pub async fn application(&self, id: i64) -> Value {
        let (status, body) = parts(
            self.get(&format!("/api/v1/intercept/applications/{id}"))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Runs the workers until the application reaches `status` (or the deadline passes).
    pub async fn drive_until(&self, workers: &Workers, id: i64, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let application = self.application(id).await;
            if application["status"] == status {
                return application;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "application never became {status}: {application}"
            );
            let ran = workers.pool.run_once().await.expect("queue works");
            if ran == 0 {
                // Nothing due yet (a backoff delay is running): poll again shortly.
                actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }

    /// Another organization with its own key: (id, key).
    pub async fn second_organization(&self) -> (i64, String) {
        let org = tenants::create_organization(&self.db, "Globex")
            .await
            .expect("organization created");
        (org.id, org.api_key)
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .header("X-Knot-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_as(&self.key, path, body).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.key, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .header("X-Knot-Key", key)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch_as(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .patch(format!("{}{path}", self.address))
            .header("X-Knot-Key", key)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.patch_as(&self.key, path, body).await
    }

    pub async fn create_experiment(&self, body: Value) -> Response {
        self.post("/api/v1/experiments", &body).await
    }

    /// Creates an experiment that must be valid; returns it.
    pub async fn experiment(&self, body: Value) -> Value {
        let (status, experiment) = parts(self.create_experiment(body).await).await;
        assert_eq!(status, 201, "experiment created: {experiment}");
        experiment
    }

    pub async fn patch_experiment(&self, id: i64, body: Value) -> Response {
        self.patch(&format!("/api/v1/experiments/{id}"), &body)
            .await
    }

    pub async fn results(&self, id: i64) -> Value {
        let (status, body) =
            parts(self.get(&format!("/api/v1/experiments/{id}/results")).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn patch_settings(&self, body: Value) -> Response {
        self.patch("/api/v1/settings", &body).await
    }

    pub async fn intercept(&self, body: Value) -> Response {
        self.post("/api/v1/intercept", &body).await
    }

    pub async fn outcome(&self, body: Value) -> Response {
        self.post("/api/v1/intercept/outcome", &body).await
    }

    pub async fn dunning(&self, body: Value) -> Response {
        self.post("/api/v1/dunning", &body).await
    }

    pub async fn success_signal(&self, body: Value) -> Response {
        self.post("/api/v1/success-signal", &body).await
    }

    pub async fn create_offer(&self, body: Value) -> Response {
        self.post("/api/v1/offers", &body).await
    }

    /// Creates an offer that must be valid; returns its id.
    pub async fn offer(&self, body: Value) -> i64 {
        let response = self.create_offer(body).await;
        assert_eq!(response.status(), 201, "offer created");
        let offer: Value = response.json().await.unwrap();
        offer["id"].as_i64().unwrap()
    }

    pub async fn discount_offer(&self) -> i64 {
        self.offer(json!({"type": "discount", "value": 20, "label": "20% off"}))
            .await
    }

    pub async fn patch_offer(&self, id: i64, body: Value) -> Response {
        self.client
            .patch(format!("{}/api/v1/offers/{id}", self.address))
            .header("X-Knot-Key", &self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete_offer(&self, id: i64) -> Response {
        self.client
            .delete(format!("{}/api/v1/offers/{id}", self.address))
            .header("X-Knot-Key", &self.key)
            .send()
            .await
            .unwrap()
    }
}

/// Status and JSON body of a response.
pub async fn parts(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("every answer is JSON, got {status}: {text:?}"));
    (status, body)
}

/// Asserts a Laravel-style 422 naming `field` with `message`.
pub async fn assert_invalid(response: Response, field: &str, message: &str) {
    let (status, body) = parts(response).await;
    assert_eq!(status, 422, "{body}");
    let messages = body["errors"][field]
        .as_array()
        .unwrap_or_else(|| panic!("errors.{field} missing in {body}"));
    assert!(
        messages.iter().any(|m| m == message),
        "errors.{field} = {messages:?}, expected {message:?}"
    );
    assert!(body["message"].is_string());
}

/// A test's SQLite file (and its WAL files) goes with the test; PostgreSQL test databases
/// are dropped by `.ci/run` before the next run.
impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(path) = self.settings.database.url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
}

//! `/ready` names the part that is down: Redis (when the queue lives there) and the database,
//! each reached through a proxy the test can cut.
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{parts, test_redis_url, test_settings, TestApp, POSTGRES_ENV};

/// Forwards TCP connections to `upstream` until `cut`.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<actix_web::rt::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let registry = tasks.clone();
        let accept = actix_web::rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let pipe = actix_web::rt::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(pipe);
            }
        });
        tasks.lock().unwrap().push(accept);
        Proxy { port, tasks }
    }

    /// Stops listening and drops every open connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// `host:port` of a URL like `redis://127.0.0.1:6379` or `postgres://u@127.0.0.1:5432/db`.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap().to_owned()
}

async fn ready(app: &TestApp) -> (u16, Value) {
    parts(
        app.client
            .get(format!("{}/ready", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[actix_web::test]
async fn redis_down_makes_the_service_unready_and_says_so() {
    let Some(redis_url) = test_redis_url().await else {
        return;
    };
    let proxy = Proxy::start(host_port(&redis_url)).await;
    let mut settings = test_settings().await;
    settings.queue.backend = saveloops::config::QueueBackend::Redis;
    settings.queue.redis_url = format!("redis://127.0.0.1:{}", proxy.port);
    let app = TestApp::spawn_with(settings).await;
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, body["redis"].as_str()),
        (200, Some("ok")),
        "{body}"
    );

    proxy.cut();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["redis"], "down");
    assert_eq!(body["database"], "ok");
    assert!(
        body["message"].as_str().unwrap().starts_with("redis: "),
        "{body}"
    );
}

#[actix_web::test]
async fn a_database_that_stops_answering_makes_the_service_unready() {
    // SQLite is a file in the process: only a networked database can go away.
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        return;
    };
    if base.is_empty() {
        return;
    }
    let mut settings = test_settings().await;
    let upstream = host_port(&settings.database.url);
    let proxy = Proxy::start(upstream.clone()).await;
    settings.database.url = settings
        .database
        .url
        .replace(&upstream, &format!("127.0.0.1:{}", proxy.port));
    settings.database.acquire_timeout_seconds = 1;
    let app = TestApp::spawn_with(settings).await;
    assert_eq!(ready(&app).await.0, 200);
    proxy.cut();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "down");
    assert!(
        body["message"].as_str().unwrap().starts_with("database: "),
        "{body}"
    );
}

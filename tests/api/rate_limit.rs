//! Rate limits per API key: in process (the embedded default) and shared through Redis.
use serde_json::{json, Value};

use crate::helpers::{parts, test_redis_url, test_settings, TestApp};

fn limited(settings: &mut saveloops::config::Settings, rps: f64, burst: u32) {
    settings.rate_limit.requests_per_second = rps;
    settings.rate_limit.burst = burst;
}

/// Two instances on one database and one Redis namespace, limited alike; None without Redis.
async fn instances_sharing_redis(rps: f64, burst: u32) -> Option<(TestApp, TestApp)> {
    let redis_url = test_redis_url().await?;
    let mut settings = test_settings().await;
    settings.queue.backend = saveloops::config::QueueBackend::Redis;
    settings.queue.redis_url = redis_url;
    limited(&mut settings, rps, burst);
    let first = TestApp::spawn_with(settings.clone()).await;
    let second = TestApp::spawn_with(settings).await;
    Some((first, second))
}

/// Asserts a 429 with `Retry-After` and a JSON message.
async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = parts(response).await;
    assert_eq!(status, 429, "{body}");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(body["retry_after"], retry_after);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Too many requests"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_key_over_its_burst_gets_429_with_retry_after_in_process() {
    let mut settings = test_settings().await;
    // One request a minute after a burst of 3: the fourth at once is refused for ~60 s.
    limited(&mut settings, 1.0 / 60.0, 3);
    let app = TestApp::spawn_with(settings).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/offers").await.status(), 200);
    }
    // Every keyed endpoint shares the key's bucket.
    assert_limited(
        app.post("/api/v1/intercept", &json!({"target_id": "x"}))
            .await,
    )
    .await;
    assert_limited(app.get("/api/v1/offers").await).await;
    // Other keys, unauthenticated requests and the unkeyed endpoints are not affected.
    let (_, other) = app.second_organization().await;
    assert_eq!(app.get_as(&other, "/api/v1/offers").await.status(), 200);
    let (status, body) = parts(app.get_as("slk_nope", "/api/v1/offers").await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Invalid API key."))
    );
    let health = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[actix_web::test]
async fn zero_requests_per_second_turns_the_limit_off() {
    let mut settings = test_settings().await;
    limited(&mut settings, 0.0, 1);
    let app = TestApp::spawn_with(settings).await;
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/offers").await.status(), 200);
    }
}

#[actix_web::test]
async fn with_the_redis_backend_instances_share_a_keys_bucket() {
    let Some((first, second)) = instances_sharing_redis(1.0 / 60.0, 3).await else {
        return;
    };
    let key = first.key.clone();
    assert_eq!(first.get_as(&key, "/api/v1/offers").await.status(), 200);
    assert_eq!(second.get_as(&key, "/api/v1/offers").await.status(), 200);
    assert_eq!(first.get_as(&key, "/api/v1/offers").await.status(), 200);
    assert_limited(second.get_as(&key, "/api/v1/offers").await).await;
    assert_limited(first.get_as(&key, "/api/v1/offers").await).await;
    // The other instance's own organization has a bucket of its own.
    assert_eq!(second.get("/api/v1/offers").await.status(), 200);

    // Readiness names Redis when the queue lives there.
    let (status, ready): (u16, Value) = parts(
        first
            .client
            .get(format!("{}/ready", first.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ready,
        json!({"database": "ok", "redis": "ok", "status": "ready"})
    );
}

#[actix_web::test]
async fn leased_from_redis_two_instances_together_stay_within_the_bucket() {
    // 100/s: each instance takes five requests' worth of the bucket per Redis round trip.
    let (rate, burst) = (100.0, 20);
    let Some((first, second)) = instances_sharing_redis(rate, burst).await else {
        return;
    };
    let key = first.key.clone();
    let started = std::time::Instant::now();
    // At once, so that the bucket has little time to refill.
    let statuses = futures_util::future::join_all((0..60).map(|n| {
        let instance = if n % 2 == 0 { &first } else { &second };
        instance.get_as(&key, "/api/v1/offers")
    }))
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let passed = statuses.iter().filter(|r| r.status() == 200).count() as f64;
    let refused = statuses.iter().filter(|r| r.status() == 429).count() as f64;
    assert_eq!(passed + refused, 60.0, "every answer is 200 or 429");
    // GCRA's bound over any stretch of time: the burst plus what the rate refilled.
    let bound = f64::from(burst) + rate * elapsed + 1.0;
    assert!(passed <= bound, "{passed} passed, at most {bound} may");
    assert!(refused > 0.0 || bound >= 60.0, "the shared bucket ran dry");
}

//! Helpers of the operator, metrics, analytics, OpenAPI and rate-limit tests.
use std::time::{Duration, Instant};

use reqwest::{Method, Response};
use serde_json::Value;

use crate::fake_stripe::FakeStripe;
use crate::helpers::{parts, test_settings, TestApp};

pub const ADMIN_TOKEN: &str = "test-operator-token-0123456789abcdef";
pub const STRIPE_KEY: &str = "sk_test_saveloops_4eC39HqLyjWDarjtT1zdp7dc";

/// An app with the operator API on, a fake Stripe with `sub_1`, and the organization's
/// Stripe key stored.
pub async fn ops_app(tune: impl FnOnce(&mut saveloops::config::Settings)) -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start().await;
    stripe.add_subscription("sub_1", "cus_1", "si_1", "price_pro", None);
    let mut settings = test_settings().await;
    settings.stripe.api_base = stripe.base_url();
    settings.admin.token = ADMIN_TOKEN.to_owned();
    // Every scrape reads the queue afresh.
    settings.metrics.queue_sample_seconds = 0;
    tune(&mut settings);
    let app = TestApp::spawn_with(settings).await;
    app.set_stripe_key(STRIPE_KEY).await;
    (app, stripe)
}

/// A request with the operator's bearer token (or `token`).
pub async fn admin_as(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.client.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request sent")
}

pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    parts(admin_as(app, Some(ADMIN_TOKEN), method, path, body).await).await
}

/// The `/metrics` text.
pub async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of the sample `name{labels…}` whose labels include all of `labels`; the sum
/// when several match; None when none does.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let matches = labels.iter().all(|(k, v)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        });
        if matches {
            *found.get_or_insert(0.0) += value.parse::<f64>().unwrap();
        }
    }
    found
}

/// Polls `check` until it answers Some, or fails after 30 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

//! `/metrics`: HTTP requests by route pattern, queue depth and job counters moving while
//! Stripe fails, Stripe calls by outcome, and the optional metrics token.
use reqwest::Method;
use serde_json::json;

use crate::fake_stripe::Fault;
use crate::helpers::parts;
use crate::ops_support::{admin, eventually, metric, ops_app, scrape};

const KIND: (&str, &str) = ("kind", "apply_offer");

#[actix_web::test]
async fn queue_depth_retries_and_dead_jobs_show_while_stripe_fails() {
    let (app, stripe) = ops_app(|s| s.queue.retry.max_attempts = 2).await;
    let offer = app.discount_offer().await;
    stripe.fail_always_on("POST", "/v1/subscriptions", Fault::Status(503));

    let before = scrape(&app).await;
    let retried_before = metric(&before, "saveloops_jobs_retried_total", &[KIND]).unwrap_or(0.0);
    let dead_before = metric(&before, "saveloops_jobs_dead_total", &[KIND]).unwrap_or(0.0);
    let started_before = metric(&before, "saveloops_jobs_started_total", &[KIND]).unwrap_or(0.0);
    let transient_before = metric(
        &before,
        "saveloops_stripe_requests_total",
        &[
            ("operation", "update_subscription"),
            ("outcome", "transient"),
        ],
    )
    .unwrap_or(0.0);
    // The queue's figures are exported even while it is empty.
    assert_eq!(metric(&before, "saveloops_queue_jobs", &[KIND]), Some(0.0));
    assert_eq!(metric(&before, "saveloops_queue_up", &[]), Some(1.0));

    let (status, body) = parts(
        app.apply_offer(json!({"offer_id": offer, "stripe_subscription_id": "sub_1",
                               "user_email": "u@example.com", "mrr_value": 29}))
            .await,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["application_id"].as_i64().unwrap();

    // Queued: one job waiting, and the request's failed Stripe call counted.
    let text = scrape(&app).await;
    let waiting = metric(
        &text,
        "saveloops_queue_jobs",
        &[KIND, ("state", "scheduled")],
    )
    .unwrap()
        + metric(&text, "saveloops_queue_jobs", &[KIND, ("state", "ready")]).unwrap();
    assert_eq!(waiting, 1.0, "{text}");
    assert!(
        metric(
            &text,
            "saveloops_stripe_requests_total",
            &[
                ("operation", "update_subscription"),
                ("outcome", "transient")
            ],
        )
        .unwrap()
            >= transient_before + 1.0
    );
    assert!(
        metric(
            &text,
            "saveloops_http_requests_total",
            &[
                ("route", "/api/v1/intercept/apply-offer"),
                ("status", "202"),
                ("method", "POST")
            ],
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric(
            &text,
            "saveloops_stripe_request_duration_seconds_count",
            &[("operation", "update_subscription")],
        )
        .unwrap()
            >= 1.0
    );

    // A worker takes the job, Stripe fails again: a retry shows, in the process's counters
    // and in the queue's own figures.
    let workers = app.workers();
    let text = eventually("a retry in /metrics", || {
        let app = &app;
        let workers = &workers;
        async move {
            workers.pool.run_once().await.unwrap();
            let text = scrape(app).await;
            // The queue's own figure belongs to this app alone (other tests share the
            // process's counters).
            (metric(&text, "saveloops_queue_retries_recorded", &[KIND]).unwrap_or(0.0) >= 1.0)
                .then_some(text)
        }
    })
    .await;
    assert!(metric(&text, "saveloops_jobs_started_total", &[KIND]).unwrap() > started_before);
    assert!(metric(&text, "saveloops_jobs_retried_total", &[KIND]).unwrap() > retried_before);
    let (status, stats) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(status, 200);
    assert!(
        stats["kinds"]["apply_offer"]["retries_total"]
            .as_u64()
            .unwrap()
            >= 1,
        "{stats}"
    );

    // Out of attempts: the job is dead, in both places.
    app.drive_until(&workers, id, "dead").await;
    let text = scrape(&app).await;
    assert_eq!(
        metric(&text, "saveloops_queue_jobs", &[KIND, ("state", "dead")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "saveloops_queue_jobs",
            &[KIND, ("state", "scheduled")]
        ),
        Some(0.0)
    );
    assert!(metric(&text, "saveloops_jobs_dead_total", &[KIND]).unwrap() >= dead_before + 1.0);
    let (_, stats) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(stats["total"]["dead"], 1, "{stats}");
    assert_eq!(stats["kinds"]["apply_offer"]["dead"], 1);

    // Stripe recovers and an operator retries the job: it succeeds and the counter moves.
    stripe.heal();
    let succeeded_before = metric(&text, "saveloops_jobs_succeeded_total", &[KIND]).unwrap_or(0.0);
    let (status, _) = admin(
        &app,
        Method::POST,
        &format!("/api/v1/admin/queue/dead/apply_offer:{id}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    app.drive_until(&workers, id, "applied").await;
    let text = scrape(&app).await;
    assert!(metric(&text, "saveloops_jobs_succeeded_total", &[KIND]).unwrap() > succeeded_before);
    assert_eq!(metric(&text, "saveloops_queue_jobs", &[KIND]), Some(0.0));
}

#[actix_web::test]
async fn requests_are_counted_by_route_pattern_not_by_path() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let (status, _) = parts(app.get("/api/v1/offers/987654321").await).await;
    assert_eq!(status, 404);
    let (status, _) = parts(app.get("/no/such/route/4242").await).await;
    assert_eq!(status, 404);
    let text = scrape(&app).await;
    assert!(
        metric(
            &text,
            "saveloops_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/v1/offers/{id}"),
                ("status", "404")
            ],
        )
        .unwrap()
            >= 1.0,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "saveloops_http_requests_total",
            &[("route", "unmatched"), ("status", "404")],
        )
        .unwrap()
            >= 1.0
    );
    // Paths never become labels. Only series names and labels are searched: a sample's value
    // (a latency sum, say) may contain any digits.
    let series: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series))
        .collect();
    assert!(
        series
            .iter()
            .all(|s| !s.contains("987654321") && !s.contains("4242")),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "saveloops_http_request_duration_seconds_bucket",
            &[("route", "/api/v1/offers/{id}"), ("le", "+Inf")],
        )
        .unwrap()
            >= 1.0
    );
    // Ticket counters are exported from zero.
    assert!(metric(&text, "saveloops_tickets_total", &[("event", "created")]).is_some());
}

#[actix_web::test]
async fn a_metrics_token_protects_the_endpoint_when_set() {
    let token = "metrics-scraper-token-123456";
    let (app, _stripe) = ops_app(|s| s.metrics.token = token.to_owned()).await;
    let url = format!("{}/metrics", app.address);
    let (status, body) = parts(app.client.get(&url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Unauthenticated."))
    );
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("saveloops_http_requests_total"));
}

#[actix_web::test]
async fn every_known_series_is_exported_before_its_first_event() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let text = scrape(&app).await;
    for operation in [
        "get_subscription",
        "get_coupon",
        "create_coupon",
        "update_subscription",
    ] {
        for outcome in ["success", "transient", "permanent"] {
            let labels = [("operation", operation), ("outcome", outcome)];
            assert!(
                metric(&text, "saveloops_stripe_requests_total", &labels).is_some(),
                "no {labels:?} in\n{text}"
            );
            assert!(metric(
                &text,
                "saveloops_stripe_request_duration_seconds_count",
                &labels
            )
            .is_some());
        }
    }
    for kind in ["apply_offer", "deliver_ticket"] {
        for event in ["started", "succeeded", "retried", "failed", "dead"] {
            let name = format!("saveloops_jobs_{event}_total");
            assert!(metric(&text, &name, &[("kind", kind)]).is_some(), "{name}");
        }
    }
    for event in ["created", "delivered", "failed"] {
        assert!(metric(&text, "saveloops_tickets_total", &[("event", event)]).is_some());
    }
    assert!(metric(
        &text,
        "saveloops_rate_limited_total",
        &[("route", "/api/v1/intercept")]
    )
    .is_some());
}

//! Applying accepted offers to Stripe: each offer type's exact requests, permanent and
//! transient failures, retries through the queue, dead jobs, crashes and lost queue data.
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fake_stripe::{FakeStripe, Fault};
use crate::helpers::{assert_invalid, parts, test_settings, TestApp};

const STRIPE_KEY: &str = "sk_test_saveloops_4eC39HqLyjWDarjtT1zdp7dc";

async fn app_with_stripe(
    tune: impl FnOnce(&mut saveloops::config::Settings),
) -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start().await;
    stripe.add_subscription("sub_1", "cus_1", "si_1", "price_pro", None);
    let mut settings = test_settings().await;
    settings.stripe.api_base = stripe.base_url();
    tune(&mut settings);
    let app = TestApp::spawn_with(settings).await;
    app.set_stripe_key(STRIPE_KEY).await;
    (app, stripe)
}

async fn saves(app: &TestApp) -> u64 {
    entity::outcome::Entity::find()
        .filter(entity::outcome::Column::Source.eq("apply_offer"))
        .count(&app.db)
        .await
        .unwrap()
}

/// The numbers of the application's recorded attempts, in order.
async fn attempt_numbers(app: &TestApp, application_id: i64) -> Vec<i32> {
    let mut numbers: Vec<i32> = entity::application_attempt::Entity::find()
        .filter(entity::application_attempt::Column::ApplicationId.eq(application_id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|a| a.attempt)
        .collect();
    numbers.sort_unstable();
    numbers
}

fn sorted(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names
}

fn apply_body(offer: i64) -> Value {
    json!({"offer_id": offer, "stripe_subscription_id": "sub_1",
           "user_email": "user@example.com", "mrr_value": 29})
}

#[actix_web::test]
async fn a_discount_creates_the_coupon_and_sets_it_on_the_subscription() {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let offer = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off for 3 months",
                      "config": {"duration": "repeating", "duration_in_months": 3}}),
        )
        .await;
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(
        (status, body),
        (200, json!({"message": "Offer applied successfully."}))
    );

    let coupon_calls = stripe.requests_to("POST", "/v1/coupons");
    assert_eq!(coupon_calls.len(), 1);
    let coupon = &coupon_calls[0];
    assert_eq!(coupon.param("percent_off"), Some("20"));
    assert_eq!(coupon.param("duration"), Some("repeating"));
    assert_eq!(coupon.param("duration_in_months"), Some("3"));
    let coupon_id = coupon.param("id").unwrap().to_owned();
    let updates = stripe.requests_to("POST", "/v1/subscriptions/sub_1");
    assert_eq!(updates.len(), 1);
    let update = &updates[0];
    assert_eq!(
        update.param("discounts[0][coupon]"),
        Some(coupon_id.as_str())
    );
    assert!(
        update.param("coupon").is_none(),
        "the singular coupon is gone since basil"
    );
    for request in [coupon, update] {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {STRIPE_KEY}").as_str())
        );
        assert!(request.header("stripe-version").unwrap() >= "2025-03-31.basil");
        assert!(request
            .header("idempotency-key")
            .is_some_and(|k| !k.is_empty() && k.len() <= 255));
    }
    assert_eq!(stripe.applied_updates("sub_1"), 1);
    assert_eq!(saves(&app).await, 1, "the save is recorded once");
    // And analytics counts it (the ledger writes it, not the outcomes' group commit).
    let (_, summary) = parts(app.get("/api/v1/analytics/summary").await).await;
    assert_eq!(
        (&summary["saves"], &summary["saved_mrr"]),
        (&json!(1), &json!(29)),
        "{summary}"
    );

    // Another customer accepting the same offer reuses the coupon.
    stripe.add_subscription("sub_2", "cus_2", "si_2", "price_pro", None);
    let mut body = apply_body(offer);
    body["stripe_subscription_id"] = json!("sub_2");
    let (status, _) = parts(app.apply_offer(body).await).await;
    assert_eq!(status, 200);
    assert_eq!(stripe.coupon_ids(), vec![coupon_id.clone()]);
    // Known to exist, the coupon is neither created nor read again.
    assert_eq!(stripe.requests_to("POST", "/v1/coupons").len(), 1);
    assert!(stripe
        .requests_to("GET", &format!("/v1/coupons/{coupon_id}"))
        .is_empty());
    assert_eq!(stripe.applied_updates("sub_2"), 1);
}

#[actix_web::test]
async fn pause_trial_extension_and_downgrade_send_what_stripe_documents() {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let before = Utc::now().timestamp();

    let pause = app
        .offer(
            json!({"type": "pause", "value": 2, "label": "Pause 2 months",
                      "config": {"behavior": "keep_as_draft"}}),
        )
        .await;
    assert_eq!(app.apply_offer(apply_body(pause)).await.status(), 200);
    let update = stripe
        .requests_to("POST", "/v1/subscriptions/sub_1")
        .pop()
        .unwrap();
    assert_eq!(
        update.param("pause_collection[behavior]"),
        Some("keep_as_draft")
    );
    let resumes_at: i64 = update
        .param("pause_collection[resumes_at]")
        .unwrap()
        .parse()
        .unwrap();
    let two_months = (before + 59 * 86_400)..=(Utc::now().timestamp() + 62 * 86_400);
    assert!(two_months.contains(&resumes_at), "{resumes_at}");

    let trial_end = Utc::now().timestamp() + 10 * 86_400;
    stripe.add_subscription("sub_trial", "cus_t", "si_t", "price_pro", Some(trial_end));
    let trial = app
        .offer(json!({"type": "trial_extension", "value": 14, "label": "Two more weeks"}))
        .await;
    let mut body = apply_body(trial);
    body["stripe_subscription_id"] = json!("sub_trial");
    assert_eq!(app.apply_offer(body).await.status(), 200);
    let update = stripe
        .requests_to("POST", "/v1/subscriptions/sub_trial")
        .pop()
        .unwrap();
    assert_eq!(
        update.param("trial_end"),
        Some((trial_end + 14 * 86_400).to_string().as_str()),
        "the later of now and the current trial end, plus the offer's days"
    );
    assert_eq!(update.param("proration_behavior"), Some("none"));
    assert_eq!(
        sorted(update.param_names()),
        ["proration_behavior", "trial_end"]
    );
    assert_eq!(
        stripe
            .requests_to("GET", "/v1/subscriptions/sub_trial")
            .len(),
        1
    );

    let downgrade = app
        .offer(json!({"type": "downgrade", "value": 0, "label": "Go Basic",
                      "config": {"price_id": "price_basic"}}))
        .await;
    stripe.add_subscription("sub_down", "cus_d", "si_d", "price_pro", None);
    let mut body = apply_body(downgrade);
    body["stripe_subscription_id"] = json!("sub_down");
    assert_eq!(app.apply_offer(body).await.status(), 200);
    let update = stripe
        .requests_to("POST", "/v1/subscriptions/sub_down")
        .pop()
        .unwrap();
    assert_eq!(update.param("items[0][id]"), Some("si_d"));
    assert_eq!(update.param("items[0][price]"), Some("price_basic"));
    assert_eq!(
        sorted(update.param_names()),
        ["items[0][id]", "items[0][price]"]
    );
    assert_eq!(
        stripe.subscription("sub_down")["items"]["data"][0]["price"]["id"],
        "price_basic"
    );
    assert_eq!(saves(&app).await, 3);
}

#[actix_web::test]
async fn offers_without_a_stripe_action_and_bad_input_are_refused_without_calls() {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let contact = app
        .offer(json!({"type": "contact", "value": 0, "label": "Talk to us",
                      "config": {"url": "https://cal.example.com/acme"}}))
        .await;
    let custom = app
        .offer(json!({"type": "custom", "value": 0, "label": "A gift"}))
        .await;
    for offer in [contact, custom] {
        let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
        assert_eq!(status, 422);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("no Stripe action"),
            "{body}"
        );
    }
    let discount = app.discount_offer().await;
    assert_invalid(
        app.apply_offer(json!({"stripe_subscription_id": "sub_1"}))
            .await,
        "offer_id",
        "The offer id field is required.",
    )
    .await;
    assert_invalid(
        app.apply_offer(json!({"offer_id": discount + 100, "stripe_subscription_id": "sub_1"}))
            .await,
        "offer_id",
        "The selected offer id is invalid.",
    )
    .await;
    assert_invalid(
        app.apply_offer(json!({"offer_id": discount})).await,
        "stripe_subscription_id",
        "The stripe subscription id field is required.",
    )
    .await;
    assert_invalid(
        app.apply_offer(json!({"offer_id": discount, "stripe_subscription_id": 7}))
            .await,
        "stripe_subscription_id",
        "The stripe subscription id field must be a string.",
    )
    .await;
    assert_invalid(
        app.apply_offer(
            json!({"offer_id": discount, "stripe_subscription_id": "sub_1", "mrr_value": -5}),
        )
        .await,
        "mrr_value",
        "The mrr value field must be at least 0.",
    )
    .await;
    // Another organization's offer is invalid for this one.
    let (_, other_key) = app.second_organization().await;
    let (status, _) = parts(
        app.post_as(
            &other_key,
            "/api/v1/intercept/apply-offer",
            &apply_body(discount),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(stripe.requests().is_empty(), "nothing reached Stripe");
    assert_eq!(
        entity::offer_application::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

#[actix_web::test]
async fn a_permanent_stripe_error_is_a_422_without_retry_and_shows_stripes_error_only_in_debug() {
    for debug in [false, true] {
        let (app, stripe) = app_with_stripe(|s| s.debug = debug).await;
        let offer = app.discount_offer().await;
        let mut body = apply_body(offer);
        body["stripe_subscription_id"] = json!("sub_missing");
        let (status, answer) = parts(app.apply_offer(body).await).await;
        assert_eq!(status, 422, "{answer}");
        assert!(answer["message"]
            .as_str()
            .unwrap()
            .contains("could not be applied"));
        assert_eq!(answer.get("error").is_some(), debug, "{answer}");
        if debug {
            assert_eq!(answer["error"]["code"], "resource_missing");
        }
        assert!(!answer.to_string().contains(STRIPE_KEY));

        let workers = app.workers();
        assert_eq!(workers.pool.run_once().await.unwrap(), 0, "nothing queued");
        let application = entity::offer_application::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(application.status, "failed");
        assert_eq!(application.attempts, 1);
        assert!(!application
            .last_error
            .unwrap_or_default()
            .contains(STRIPE_KEY));
        assert_eq!(saves(&app).await, 0);
        assert_eq!(stripe.requests_to("POST", "/v1/subscriptions").len(), 1);
    }
}

#[actix_web::test]
async fn transient_failures_are_retried_until_applied_exactly_once() {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let offer = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause a month"}))
        .await;
    // 500, a rate limit, a lock conflict, then a dropped connection; then Stripe recovers.
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Status(500));
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Status(429));
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Conflict);
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Drop);
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(status, 202, "{body}");
    let id = body["application_id"].as_i64().unwrap();
    assert!(body["message"].is_string());
    let queued = app.application(id).await;
    assert_eq!(queued["status"], "retrying");
    assert_eq!(queued["attempts"], 1);
    assert!(queued["last_error"].as_str().unwrap().contains("500"));
    assert_eq!(saves(&app).await, 0);

    let workers = app.workers();
    let applied = app.drive_until(&workers, id, "applied").await;
    assert_eq!(applied["attempts"], 5);
    assert_eq!(stripe.applied_updates("sub_1"), 1);
    assert_eq!(saves(&app).await, 1);
    let keys: std::collections::BTreeSet<_> = stripe
        .requests_to("POST", "/v1/subscriptions")
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 1, "every attempt reuses the application's key");
    assert_eq!(attempt_numbers(&app, id).await.len(), 5);
    // Nothing is left in the queue.
    assert_eq!(workers.pool.run_once().await.unwrap(), 0);
}

#[actix_web::test]
async fn many_applications_at_once_each_get_their_own_change_history_and_save() {
    // Concurrent attempts share the ledger's batched reads and writes (planned changes,
    // settlements): each application must still send its own change and be counted once.
    const N: usize = 24;
    let (app, stripe) = app_with_stripe(|s| s.queue.concurrency = N).await;
    let sub = |i: usize| format!("sub_m{i:02}");
    for i in 0..N {
        stripe.add_subscription(
            &sub(i),
            &format!("cus_m{i:02}"),
            &format!("si_m{i:02}"),
            "price_pro",
            None,
        );
    }
    let downgrade = app
        .offer(json!({"type": "downgrade", "value": 0, "label": "Go Basic",
                      "config": {"price_id": "price_basic"}}))
        .await;
    // Every first update fails, so all of them go to the queue and are retried together.
    stripe.fail_next_on("POST", "/v1/subscriptions/", N, Fault::Status(500));
    let answers = futures_util::future::join_all((0..N).map(|i| {
        let mut body = apply_body(downgrade);
        body["stripe_subscription_id"] = json!(sub(i));
        app.apply_offer(body)
    }))
    .await;
    let mut ids = Vec::new();
    for answer in answers {
        let (status, body) = parts(answer).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["application_id"].as_i64().unwrap());
    }

    let workers = app.workers();
    for id in &ids {
        let applied = app.drive_until(&workers, *id, "applied").await;
        assert_eq!(applied["attempts"], 2, "{applied}");
        assert_eq!(attempt_numbers(&app, *id).await, [1, 2], "application {id}");
    }
    for i in 0..N {
        assert_eq!(stripe.applied_updates(&sub(i)), 1, "{}", sub(i));
        let updates = stripe.requests_to("POST", &format!("/v1/subscriptions/{}", sub(i)));
        assert_eq!(
            updates.len(),
            2,
            "{}: the failed update and its retry",
            sub(i)
        );
        for update in updates {
            assert_eq!(
                update.param("items[0][id]"),
                Some(format!("si_m{i:02}").as_str())
            );
        }
    }
    assert_eq!(saves(&app).await, N as u64);
    assert_eq!(workers.pool.run_once().await.unwrap(), 0);
}

#[actix_web::test]
async fn two_attempts_of_one_application_at_once_apply_and_save_it_once() {
    // What a lost lease can cause: two workers run the same retry at the same moment. Their
    // settlements may share a batch; the application is still applied and saved once.
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let offer = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause a month"}))
        .await;
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Status(500));
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(status, 202, "{body}");
    let id = body["application_id"].as_i64().unwrap();

    let (first, second) =
        futures_util::future::join(app.applier.attempt(id), app.applier.attempt(id)).await;
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let applied = app.application(id).await;
    assert_eq!(applied["status"], "applied");
    assert_eq!(stripe.applied_updates("sub_1"), 1);
    assert_eq!(saves(&app).await, 1);
    assert_eq!(
        attempt_numbers(&app, id).await.len(),
        3,
        "the request's attempt and both retries"
    );
}

#[actix_web::test]
async fn a_change_that_landed_but_lost_its_answer_is_not_applied_twice() {
    // Even past Stripe's idempotency window (set to 0 here) a retry reads the
    // subscription first and sees the change already there.
    let (app, stripe) = app_with_stripe(|s| s.stripe.idempotency_window_seconds = 0).await;
    let trial_end = Utc::now().timestamp() + 3 * 86_400;
    stripe.add_subscription("sub_t", "cus_t", "si_t", "price_pro", Some(trial_end));
    let offer = app
        .offer(json!({"type": "trial_extension", "value": 7, "label": "A week more"}))
        .await;
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::DropAfterApply);
    let mut body = apply_body(offer);
    body["stripe_subscription_id"] = json!("sub_t");
    let (status, body) = parts(app.apply_offer(body).await).await;
    assert_eq!(status, 202);
    stripe.expire_idempotency_keys();
    let id = body["application_id"].as_i64().unwrap();
    app.drive_until(&app.workers(), id, "applied").await;
    assert_eq!(
        stripe.applied_updates("sub_t"),
        1,
        "the trial was extended once"
    );
    assert_eq!(
        stripe.subscription("sub_t")["trial_end"],
        json!(trial_end + 7 * 86_400)
    );
    assert_eq!(saves(&app).await, 1);
}

fn cli(app: &TestApp, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .args(args)
        .envs(cli_env(app))
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// The environment that points a `saveloops` process at the test's database and queue.
fn cli_env(app: &TestApp) -> Vec<(&'static str, String)> {
    let s = &app.settings;
    vec![
        ("SAVELOOPS_DATABASE__URL", s.database.url.clone()),
        (
            "SAVELOOPS_QUEUE__BACKEND",
            format!("{:?}", s.queue.backend).to_lowercase(),
        ),
        ("SAVELOOPS_QUEUE__REDIS_URL", s.queue.redis_url.clone()),
        ("SAVELOOPS_QUEUE__KEY_PREFIX", s.queue.key_prefix.clone()),
        (
            "SAVELOOPS_SECURITY__MASTER_KEY",
            s.security.master_key.clone().unwrap(),
        ),
        ("SAVELOOPS_STRIPE__API_BASE", s.stripe.api_base.clone()),
        ("SAVELOOPS_LOG__LEVEL", "warn".to_owned()),
    ]
}

#[actix_web::test]
async fn failures_beyond_the_last_attempt_make_a_dead_job_an_operator_can_retry() {
    let (app, stripe) = app_with_stripe(|s| s.queue.retry.max_attempts = 2).await;
    let offer = app.discount_offer().await;
    stripe.fail_always_on("POST", "/v1/subscriptions", Fault::Status(503));
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(status, 202);
    let id = body["application_id"].as_i64().unwrap();
    let workers = app.workers();
    let dead = app.drive_until(&workers, id, "dead").await;
    assert_eq!(dead["attempts"], 3, "the request's attempt and two retries");

    let stats = cli(&app, &["queue", "stats"]);
    assert_eq!(stats["total"]["dead"], 1, "{stats}");
    let listed = cli(&app, &["queue", "dead"]);
    let job = &listed["dead"][0];
    assert_eq!(job["id"], format!("apply_offer:{id}"));
    assert!(job["last_error"].as_str().unwrap().contains("503"), "{job}");

    stripe.heal();
    let revived = cli(&app, &["queue", "retry", &format!("apply_offer:{id}")]);
    assert_eq!(revived["revived"], format!("apply_offer:{id}"));
    assert_eq!(app.application(id).await["status"], "retrying");
    app.drive_until(&workers, id, "applied").await;
    assert_eq!(stripe.applied_updates("sub_1"), 1);
    assert_eq!(saves(&app).await, 1);
    assert_eq!(cli(&app, &["queue", "stats"])["total"]["dead"], 0);
}

#[actix_web::test]
async fn a_worker_killed_while_holding_a_job_loses_its_lease_and_the_job_completes_once() {
    let (app, stripe) = app_with_stripe(|s| s.queue.lease_seconds = 2).await;
    let offer = app.discount_offer().await;
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Status(500));
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(status, 202);
    let id = body["application_id"].as_i64().unwrap();

    // The worker process gets the job; Stripe applies the change but answers slowly, and
    // the worker is killed before it hears back.
    stripe.fail_next_on(
        "POST",
        "/v1/subscriptions",
        1,
        Fault::Slow(Duration::from_secs(60)),
    );
    let mut worker = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .arg("work")
        .envs(cli_env(&app))
        .env("SAVELOOPS_QUEUE__LEASE_SECONDS", "2")
        .env("SAVELOOPS_QUEUE__POLL_INTERVAL_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("worker starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while stripe.requests_to("POST", "/v1/subscriptions").len() < 2 {
        assert!(Instant::now() < deadline, "the worker never reached Stripe");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill().expect("SIGKILL");
    worker.wait().unwrap();
    assert_ne!(app.application(id).await["status"], "applied");

    // A new worker picks the job up once the dead worker's lease runs out.
    app.drive_until(&app.workers(), id, "applied").await;
    assert_eq!(stripe.applied_updates("sub_1"), 1, "applied exactly once");
    assert_eq!(saves(&app).await, 1);
}

#[actix_web::test]
async fn jobs_lost_by_a_flushed_redis_are_restored_by_the_reconciler() {
    let Some(redis_url) = crate::helpers::test_redis_url().await else {
        return;
    };
    let (app, stripe) = app_with_stripe(|s| {
        s.queue.backend = saveloops::config::QueueBackend::Redis;
        s.queue.redis_url = redis_url.clone();
    })
    .await;
    let offer = app.discount_offer().await;
    stripe.fail_next_on("POST", "/v1/subscriptions", 3, Fault::Status(502));
    let mut ids = Vec::new();
    for n in 0..3 {
        let sub = format!("sub_r{n}");
        stripe.add_subscription(&sub, "cus_r", &format!("si_r{n}"), "price_pro", None);
        let mut body = apply_body(offer);
        body["stripe_subscription_id"] = json!(sub);
        let (status, body) = parts(app.apply_offer(body).await).await;
        assert_eq!(status, 202);
        ids.push(body["application_id"].as_i64().unwrap());
    }
    // Redis loses everything under the queue's prefix.
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.settings.queue.key_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
    let workers = app.workers();
    assert_eq!(
        workers.pool.run_once().await.unwrap(),
        0,
        "the queue is empty"
    );

    let restored = app
        .applier
        .reconcile(chrono::TimeDelta::zero())
        .await
        .unwrap();
    assert_eq!(restored, 3);
    assert_eq!(
        app.applier
            .reconcile(chrono::TimeDelta::zero())
            .await
            .unwrap(),
        0,
        "once"
    );
    for id in ids {
        app.drive_until(&workers, id, "applied").await;
    }
    for n in 0..3 {
        assert_eq!(stripe.applied_updates(&format!("sub_r{n}")), 1);
    }
    assert_eq!(saves(&app).await, 3);
}

#[actix_web::test]
async fn applications_are_private_to_their_organization() {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let offer = app.discount_offer().await;
    stripe.fail_next_on("POST", "/v1/subscriptions", 1, Fault::Status(500));
    let (_, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    let id = body["application_id"].as_i64().unwrap();
    let (_, other_key) = app.second_organization().await;
    let (status, _) = parts(
        app.get_as(&other_key, &format!("/api/v1/intercept/applications/{id}"))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = parts(app.get("/api/v1/intercept/applications/999999").await).await;
    assert_eq!(status, 404);
}

/// The first request fails with a 500 that Stripe stores under the application's key, after
/// (`applied`) or before the change landed; the queue's retries then meet the replayed 500.
async fn a_stored_failure(applied: bool) -> (TestApp, FakeStripe, i64, Value) {
    let (app, stripe) = app_with_stripe(|_| {}).await;
    let offer = app
        .offer(json!({"type": "pause", "value": 1, "label": "A month off"}))
        .await;
    stripe.fail_next_on(
        "POST",
        "/v1/subscriptions",
        1,
        Fault::StoredFailure { applied },
    );
    let (status, body) = parts(app.apply_offer(apply_body(offer)).await).await;
    assert_eq!(status, 202, "{body}");
    let id = body["application_id"].as_i64().unwrap();
    let application = app.drive_until(&app.workers(), id, "applied").await;
    (app, stripe, id, application)
}

async fn attempt_outcomes(app: &TestApp, application_id: i64) -> Vec<String> {
    let mut attempts = entity::application_attempt::Entity::find()
        .filter(entity::application_attempt::Column::ApplicationId.eq(application_id))
        .all(&app.db)
        .await
        .unwrap();
    attempts.sort_by_key(|a| a.attempt);
    attempts.into_iter().map(|a| a.outcome).collect()
}

fn update_keys(stripe: &FakeStripe) -> Vec<(String, bool)> {
    stripe
        .requests_to("POST", "/v1/subscriptions")
        .iter()
        .map(|r| (r.header("idempotency-key").unwrap().to_owned(), r.replayed))
        .collect()
}

#[actix_web::test]
async fn a_replayed_500_whose_change_landed_is_applied_once_without_another_update() {
    let (app, stripe, id, application) = a_stored_failure(true).await;
    assert_eq!(application["status"], "applied");
    assert_eq!(stripe.applied_updates("sub_1"), 1);
    assert_eq!(
        stripe.subscription("sub_1")["pause_collection"]["behavior"],
        "void"
    );
    // The retry met the replay, read the subscription and sent nothing more.
    let keys = update_keys(&stripe);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0].0, keys[1].0);
    assert!(keys[1].1, "the second answer was Stripe's replay");
    assert_eq!(
        stripe.requests_to("GET", "/v1/subscriptions/sub_1").len(),
        1
    );
    assert_eq!(saves(&app).await, 1, "its save is recorded once");
    assert_eq!(attempt_outcomes(&app, id).await, ["transient", "applied"]);
}

#[actix_web::test]
async fn a_replayed_500_whose_change_did_not_land_is_retried_under_a_new_key_once() {
    let (app, stripe, id, application) = a_stored_failure(false).await;
    assert_eq!(application["status"], "applied");
    assert_eq!(stripe.applied_updates("sub_1"), 1, "applied exactly once");
    let keys = update_keys(&stripe);
    assert_eq!(keys.len(), 3, "{keys:?}");
    let first = &keys[0].0;
    assert_eq!(&keys[1].0, first);
    assert!(keys[1].1, "the first retry met the replayed 500");
    assert_eq!(keys[2], (format!("{first}-r2"), false));
    // The ledger keeps the key the change went through, and the attempt that changed it.
    let row = entity::offer_application::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.idempotency_key, format!("{first}-r2"));
    assert_eq!(
        attempt_outcomes(&app, id).await,
        ["transient", "replayed_failure", "applied"]
    );
    assert_eq!(saves(&app).await, 1);
}

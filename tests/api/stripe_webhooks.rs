//! Stripe's webhooks in: events in the shapes Stripe sends (an `event` with `data.object` and
//! `data.previous_attributes`), signed as Stripe signs them (HMAC-SHA256 over "{t}.{body}",
//! computed here, not with the service's own code), delivered twice, out of order, late, with
//! a wrong or rotated secret; and saves validated against them on a clock the test moves.
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{parts, TestApp};
use crate::ops_support::{metric, scrape};

/// The organization's endpoint and the secret Stripe signs its events with.
struct Stripe<'a> {
    app: &'a TestApp,
    path: String,
    secret: String,
}

fn new_secret() -> String {
    format!("whsec_{:032x}", rand::random::<u128>())
}

fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn add_secret(app: &TestApp, secret: &str) -> (u16, Value) {
    parts(
        app.post(
            "/api/v1/stripe/webhook-secrets",
            &json!({ "secret": secret }),
        )
        .await,
    )
    .await
}

impl<'a> Stripe<'a> {
    async fn connect(app: &'a TestApp) -> Stripe<'a> {
        let (status, endpoint) = parts(app.get("/api/v1/stripe/webhook-endpoint").await).await;
        assert_eq!(status, 200, "{endpoint}");
        let secret = new_secret();
        let (status, stored) = add_secret(app, &secret).await;
        assert_eq!(status, 201, "{stored}");
        Stripe {
            app,
            path: endpoint["path"].as_str().unwrap().to_owned(),
            secret,
        }
    }

    /// Posts `body` as Stripe does, with `header` as its `Stripe-Signature` (None: absent).
    async fn post_raw(&self, body: String, header: Option<String>) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .post(format!("{}{}", self.app.address, self.path))
            .header("Content-Type", "application/json; charset=utf-8")
            .header(
                "User-Agent",
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            );
        if let Some(header) = header {
            request = request.header("Stripe-Signature", header);
        }
        parts(request.body(body).send().await.unwrap()).await
    }

    /// Delivers an event signed now (the service's clock) with the endpoint's secret.
    async fn deliver(&self, event: &Value) -> (u16, Value) {
        self.deliver_signed(event, &self.secret, 0).await
    }

    async fn deliver_signed(&self, event: &Value, secret: &str, age: i64) -> (u16, Value) {
        // Stripe sends pretty-printed JSON: the signature covers those bytes exactly.
        let body = serde_json::to_string_pretty(event).unwrap();
        let t = self.app.actors.clock.now().timestamp() - age;
        let header = format!("t={t},v1={}", signature(secret, t, &body));
        self.post_raw(body, Some(header)).await
    }

    async fn accepted(&self, event: &Value) -> Value {
        let (status, body) = self.deliver(event).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn event(id: &str, kind: &str, created: i64, object: Value, previous: Option<Value>) -> Value {
    let mut data = json!({ "object": object });
    if let Some(previous) = previous {
        data["previous_attributes"] = previous;
    }
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "data": data, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": kind,
    })
}

fn invoice(customer: &str, email: &str, status: &str) -> Value {
    json!({
        "id": format!("in_{customer}"), "object": "invoice", "customer": customer,
        "customer_email": email, "subscription": format!("sub_{customer}"), "status": status,
        "amount_due": 2900, "amount_paid": 0, "currency": "usd", "billing_reason": "subscription_cycle",
        "lines": {"object": "list", "data": [], "has_more": false},
    })
}

fn subscription(customer: &str, cancel_at_period_end: bool, comment: Option<&str>) -> Value {
    json!({
        "id": format!("sub_{customer}"), "object": "subscription", "customer": customer,
        "status": "active", "cancel_at_period_end": cancel_at_period_end, "cancel_at": null,
        "canceled_at": null, "pause_collection": null,
        "cancellation_details": {"reason": comment.map(|_| "cancellation_requested"),
                                 "feedback": comment.map(|_| "too_expensive"), "comment": comment},
        "items": {"object": "list", "data": []},
    })
}

async fn update_card_shown(app: &TestApp, customer: &str) -> bool {
    let (status, answer) = parts(
        app.intercept(json!({"target_id": "cancel-btn", "stripe_customer_id": customer}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    answer["show_update_card"].as_bool().unwrap()
}

async fn failures_of(app: &TestApp, customer: &str) -> i32 {
    entity::end_user::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.stripe_customer_id.as_deref() == Some(customer))
        .map_or(0, |u| u.payment_failures)
}

#[actix_web::test]
async fn the_endpoint_and_its_secrets_are_managed_and_secrets_never_shown_again() {
    let app = TestApp::spawn().await;
    let (_, first) = parts(app.get("/api/v1/stripe/webhook-endpoint").await).await;
    let (_, again) = parts(app.get("/api/v1/stripe/webhook-endpoint").await).await;
    assert_eq!(first, again, "one endpoint per organization");
    let id = first["endpoint_id"].as_str().unwrap();
    assert!(id.starts_with("we_") && id.len() == 35, "{id}");
    assert!(first["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/api/v1/stripe/webhooks/{id}")));
    let (_, key) = app.second_organization().await;
    let (_, other) = parts(app.get_as(&key, "/api/v1/stripe/webhook-endpoint").await).await;
    assert_ne!(other["endpoint_id"], first["endpoint_id"]);

    let (status, body) = add_secret(&app, "sk_test_not_a_webhook_secret").await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["secret"].is_array());
    let secrets = [new_secret(), new_secret()];
    for secret in &secrets {
        let (status, stored) = add_secret(&app, secret).await;
        assert_eq!(status, 201);
        assert!(!stored.to_string().contains("whsec_"), "{stored}");
    }
    let (status, _) = add_secret(&app, &new_secret()).await;
    assert_eq!(status, 422, "two active at most");
    let (_, list) = parts(app.get("/api/v1/stripe/webhook-secrets").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("whsec_"));
    let sealed = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT secret_ciphertext FROM stripe_webhook_secrets",
        ))
        .await
        .unwrap();
    for row in sealed {
        let text: String = row.try_get_by_index(0).unwrap();
        assert!(!text.contains("whsec_"), "sealed at rest");
    }
    let revoke = format!(
        "/api/v1/stripe/webhook-secrets/{}",
        list["data"][1]["id"].as_str().unwrap()
    );
    let delete = |path: String| {
        app.client
            .delete(format!("{}{path}", app.address))
            .header("X-Knot-Key", &app.key)
            .send()
    };
    assert_eq!(delete(revoke.clone()).await.unwrap().status(), 200);
    assert_eq!(delete(revoke).await.unwrap().status(), 404);
    let (status, _) = add_secret(&app, &new_secret()).await;
    assert_eq!(status, 201, "a revoked secret frees its place");
}

#[actix_web::test]
async fn only_signatures_stripe_would_make_are_accepted_and_refusals_change_nothing() {
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let now = app.actors.clock.now().timestamp();
    let failed = event(
        "evt_sig_1",
        "invoice.payment_failed",
        now,
        invoice("cus_sig", "sig@example.com", "open"),
        None,
    );
    let body = serde_json::to_string_pretty(&failed).unwrap();
    let good = signature(&stripe.secret, now, &body);
    let refused = [
        None,
        Some("garbage".to_owned()),
        Some(format!("t={now}")),
        Some(format!("t=soon,v1={good}")),
        Some(format!(
            "t={now},v1={}",
            signature(&new_secret(), now, &body)
        )),
        // Stale: signed 301 s ago.
        Some(format!(
            "t={},v1={}",
            now - 301,
            signature(&stripe.secret, now - 301, &body)
        )),
    ];
    for header in refused {
        let (status, answer) = stripe.post_raw(body.clone(), header.clone()).await;
        assert_eq!(status, 400, "{header:?}: {answer}");
        assert!(answer["message"].is_string());
    }
    // The same bytes re-serialized (compact) are not what Stripe signed.
    let compact = serde_json::to_string(&failed).unwrap();
    let (status, _) = stripe
        .post_raw(compact, Some(format!("t={now},v1={good}")))
        .await;
    assert_eq!(status, 400);
    // An endpoint nobody has.
    let nobody = Stripe {
        app: &app,
        path: "/api/v1/stripe/webhooks/we_00000000000000000000000000000000".into(),
        secret: stripe.secret.clone(),
    };
    assert_eq!(nobody.deliver(&failed).await.0, 404);
    assert_eq!(failures_of(&app, "cus_sig").await, 0, "nothing changed");

    // Several v1 (one per secret while Stripe rolls its secret): one match is enough.
    let header = format!("t={now},v1={},v1={good}", "ab".repeat(32));
    let (status, answer) = stripe.post_raw(body, Some(header)).await;
    assert_eq!(
        (status, answer),
        (200, json!({"received": true, "duplicate": false}))
    );
    assert!(update_card_shown(&app, "cus_sig").await);

    // Rotation: a second secret works beside the first; once the first is revoked, only it.
    let rolled = new_secret();
    assert_eq!(add_secret(&app, &rolled).await.0, 201);
    let second = event(
        "evt_sig_2",
        "invoice.paid",
        now + 1,
        invoice("cus_sig", "sig@example.com", "paid"),
        None,
    );
    assert_eq!(stripe.deliver_signed(&second, &rolled, 0).await.0, 200);
    assert!(!update_card_shown(&app, "cus_sig").await);
    let (_, list) = parts(app.get("/api/v1/stripe/webhook-secrets").await).await;
    let old = list["data"][1]["id"].as_str().unwrap();
    let response = app
        .client
        .delete(format!(
            "{}/api/v1/stripe/webhook-secrets/{old}",
            app.address
        ))
        .header("X-Knot-Key", &app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let third = event(
        "evt_sig_3",
        "invoice.payment_failed",
        now + 2,
        invoice("cus_sig", "sig@example.com", "open"),
        None,
    );
    assert_eq!(stripe.deliver(&third).await.0, 400, "the revoked secret");
    assert_eq!(stripe.deliver_signed(&third, &rolled, 0).await.0, 200);
}

#[actix_web::test]
async fn redeliveries_change_nothing_and_events_apply_by_their_time_not_their_arrival() {
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let t = app.actors.clock.now().timestamp();
    let failed = |id: &str, customer: &str, at: i64| {
        event(
            id,
            "invoice.payment_failed",
            at,
            invoice(customer, &format!("{customer}@example.com"), "open"),
            None,
        )
    };
    let paid = |id: &str, customer: &str, at: i64| {
        event(
            id,
            "invoice.paid",
            at,
            invoice(customer, &format!("{customer}@example.com"), "paid"),
            None,
        )
    };

    // Twice the same failure: one failure.
    let once = failed("evt_dup", "cus_dup", t);
    assert_eq!(stripe.accepted(&once).await["duplicate"], false);
    assert_eq!(stripe.accepted(&once).await["duplicate"], true);
    assert_eq!(failures_of(&app, "cus_dup").await, 1);
    assert!(update_card_shown(&app, "cus_dup").await);

    // The payment came after the failure but arrived first: nobody is flagged.
    stripe.accepted(&paid("evt_a2", "cus_a", t)).await;
    stripe.accepted(&failed("evt_a1", "cus_a", t - 60)).await;
    assert!(!update_card_shown(&app, "cus_a").await);
    assert_eq!(failures_of(&app, "cus_a").await, 0);

    // The failure came after the payment but arrived first: still flagged.
    stripe.accepted(&failed("evt_b2", "cus_b", t)).await;
    stripe.accepted(&paid("evt_b1", "cus_b", t - 60)).await;
    assert!(update_card_shown(&app, "cus_b").await);

    // In order: flagged, then cleared; redelivered out of order afterwards: no change.
    // (A payment ends the dunning episode, which resets the end user's failure count.)
    stripe.accepted(&failed("evt_c1", "cus_c", t - 60)).await;
    stripe.accepted(&failed("evt_c1", "cus_c", t - 60)).await;
    assert_eq!(failures_of(&app, "cus_c").await, 1);
    stripe.accepted(&paid("evt_c2", "cus_c", t)).await;
    stripe.accepted(&failed("evt_c1", "cus_c", t - 60)).await;
    assert!(!update_card_shown(&app, "cus_c").await);
    // The email of the invoice reaches the end user.
    let user = entity::end_user::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.stripe_customer_id.as_deref() == Some("cus_c"))
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("cus_c@example.com"));
}

#[actix_web::test]
async fn concurrent_deliveries_of_one_event_apply_it_once() {
    // Deliveries arriving together are stored in one batch: the same event three times in a
    // batch, and beside other customers' events, is still one failure for its customer.
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let t = app.actors.clock.now().timestamp();
    const CUSTOMERS: usize = 24;
    let events: Vec<Value> = (0..CUSTOMERS)
        .map(|i| {
            let customer = format!("cus_together_{i}");
            event(
                &format!("evt_together_{i}"),
                "invoice.payment_failed",
                t - 10,
                invoice(&customer, &format!("{customer}@example.com"), "open"),
                None,
            )
        })
        .collect();
    let deliveries = events.iter().cycle().take(3 * CUSTOMERS);
    let answers = futures_util::future::join_all(deliveries.map(|e| stripe.deliver(e))).await;
    let mut firsts = 0;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        if body["duplicate"] == false {
            firsts += 1;
        }
    }
    assert_eq!(
        firsts, CUSTOMERS,
        "one delivery of each event applies it: {answers:?}"
    );
    for i in 0..CUSTOMERS {
        assert_eq!(failures_of(&app, &format!("cus_together_{i}")).await, 1);
    }
    let stored = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*), COUNT(applied_at) FROM stripe_events \
             WHERE event_id LIKE 'evt_together_%'",
        ))
        .await
        .unwrap()
        .unwrap();
    let (count, applied): (i64, i64) = (
        stored.try_get_by_index(0).unwrap(),
        stored.try_get_by_index(1).unwrap(),
    );
    assert_eq!((count, applied), (CUSTOMERS as i64, CUSTOMERS as i64));
}

#[actix_web::test]
async fn unknown_types_are_acknowledged_and_counted_and_non_events_refused() {
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let labels = [("effect", "unhandled"), ("delivery", "applied")];
    let before = metric(
        &scrape(&app).await,
        "saveloops_stripe_events_total",
        &labels,
    )
    .unwrap();
    let t = app.actors.clock.now().timestamp();
    let refund = event(
        "evt_refund",
        "charge.refunded",
        t,
        json!({"id": "ch_1", "object": "charge", "customer": "cus_r", "amount_refunded": 500}),
        None,
    );
    assert_eq!(stripe.accepted(&refund).await["duplicate"], false);
    let after = metric(
        &scrape(&app).await,
        "saveloops_stripe_events_total",
        &labels,
    )
    .unwrap();
    assert!(after >= before + 1.0, "{before} → {after}");
    assert_eq!(failures_of(&app, "cus_r").await, 0);
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert!(users.is_empty(), "an unhandled event creates nobody");

    let (status, body) = stripe.deliver(&json!({"hello": "world"})).await;
    assert_eq!(status, 422, "{body}");
    let response = app
        .client
        .post(format!("{}{}", app.address, stripe.path))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

#[actix_web::test]
async fn bodies_up_to_one_mib_are_read_on_this_route_only() {
    let app = TestApp::spawn().await;
    assert!(app.settings.server.max_body_bytes < 200_000);
    let stripe = Stripe::connect(&app).await;
    let t = app.actors.clock.now().timestamp();
    let mut large = invoice("cus_big", "big@example.com", "open");
    large["metadata"] = json!({ "notes": "x".repeat(900_000) });
    let large = event("evt_big", "invoice.payment_failed", t, large, None);
    assert_eq!(stripe.deliver(&large).await.0, 200);
    assert!(update_card_shown(&app, "cus_big").await);
    let mut too_large = invoice("cus_big", "big@example.com", "open");
    too_large["metadata"] = json!({ "notes": "x".repeat(1_100_000) });
    let too_large = event("evt_too_big", "invoice.payment_failed", t, too_large, None);
    assert_eq!(stripe.deliver(&too_large).await.0, 413);
}

#[actix_web::test]
async fn a_deletion_keeps_stripes_feedback_and_its_comment_reaches_the_classifier() {
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let t = app.actors.clock.now().timestamp();
    let comment =
        "Your app has been DOWN all week and support never answered!!! Worst service ever";
    let deleted = event(
        "evt_del",
        "customer.subscription.deleted",
        t,
        subscription("cus_gone", false, Some(comment)),
        None,
    );
    stripe.accepted(&deleted).await;
    stripe.accepted(&deleted).await;
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT effect, cancellation_reason, cancellation_feedback, cancellation_comment FROM stripe_events",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: (String, String, String, String) = (
        rows[0].try_get_by_index(0).unwrap(),
        rows[0].try_get_by_index(1).unwrap(),
        rows[0].try_get_by_index(2).unwrap(),
        rows[0].try_get_by_index(3).unwrap(),
    );
    assert_eq!(
        stored,
        (
            "churned".into(),
            "cancellation_requested".into(),
            "too_expensive".into(),
            comment.into()
        )
    );
    let (_, summary) = parts(app.get("/api/v1/analytics/summary").await).await;
    assert_eq!(
        summary["cancellation_reasons"]["total"], 1,
        "once, though delivered twice"
    );
    let (_, tickets) = parts(app.get("/api/v1/tickets").await).await;
    assert_eq!(tickets["data"].as_array().unwrap().len(), 1, "{tickets}");
}

#[actix_web::test]
async fn saves_hold_when_the_subscription_lasts_the_window_and_are_lost_when_it_does_not() {
    let app = TestApp::spawn().await;
    let stripe = Stripe::connect(&app).await;
    let offer = app.discount_offer().await;
    let t = app.actors.clock.now().timestamp();
    let day = 86_400;
    // Invoices tell which email each Stripe customer has; then each is saved.
    for (n, customer) in ["cus_stays", "cus_schedules", "cus_late", "cus_reverts"]
        .iter()
        .enumerate()
    {
        let paid = event(
            &format!("evt_inv_{n}"),
            "invoice.paid",
            t - day,
            invoice(customer, &format!("{customer}@example.com"), "paid"),
            None,
        );
        stripe.accepted(&paid).await;
        let (status, _) = parts(
            app.outcome(json!({"offer_id": offer, "status": "saved",
                               "user_email": format!("{customer}@example.com"), "mrr_value": 10 * (n + 1)}))
                .await,
        )
        .await;
        assert_eq!(status, 200);
    }
    // Set to cancel 10 days later (arriving before the older "updated" that turns it off: the
    // scheduling still counts).
    let on = event(
        "evt_on",
        "customer.subscription.updated",
        t + 10 * day,
        subscription("cus_schedules", true, None),
        Some(json!({"cancel_at_period_end": false})),
    );
    stripe.accepted(&on).await;
    // Deleted 40 days later: outside the window.
    let late = event(
        "evt_late",
        "customer.subscription.deleted",
        t + 40 * day,
        subscription("cus_late", false, None),
        None,
    );
    stripe.accepted(&late).await;
    // Scheduled 5 days later, reverted the day after: a reversal does not undo the loss.
    let reverts_on = event(
        "evt_r_on",
        "customer.subscription.updated",
        t + 5 * day,
        subscription("cus_reverts", true, None),
        Some(json!({"cancel_at_period_end": false})),
    );
    let reverts_off = event(
        "evt_r_off",
        "customer.subscription.updated",
        t + 6 * day,
        subscription("cus_reverts", false, None),
        Some(json!({"cancel_at_period_end": true})),
    );
    stripe.accepted(&reverts_off).await;
    stripe.accepted(&reverts_on).await;

    let today = Utc::now().date_naive();
    let period = format!(
        "/api/v1/analytics/summary?from={}&to={}",
        today - Duration::days(1),
        today + Duration::days(1)
    );
    let (_, summary) = parts(app.get(&period).await).await;
    assert_eq!(
        summary["save_validation"],
        json!({"window_days": 30, "held": 0, "lost": 2, "pending": 2, "retained_mrr": 0})
    );
    app.actors.clock.advance(Duration::days(29));
    let (_, summary) = parts(app.get(&period).await).await;
    assert_eq!(
        summary["save_validation"]["pending"], 2,
        "the window has a day left"
    );
    app.actors.clock.advance(Duration::days(2));
    let (_, summary) = parts(app.get(&period).await).await;
    assert_eq!(
        summary["save_validation"],
        json!({"window_days": 30, "held": 2, "lost": 2, "pending": 0, "retained_mrr": 40})
    );
    // A 7-day window: the cancellation scheduled on day 10 falls outside it too.
    let (status, _) = parts(app.patch_settings(json!({"save_validation_days": 7})).await).await;
    assert_eq!(status, 200);
    let (_, summary) = parts(app.get(&period).await).await;
    assert_eq!(
        summary["save_validation"],
        json!({"window_days": 7, "held": 3, "lost": 1, "pending": 0, "retained_mrr": 60})
    );
}

/// Runs `saveloops stripe-webhook …` against the test's database, with `stdin`.
fn cli(app: &TestApp, args: &[&str], stdin: &str) -> Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .arg("stripe-webhook")
        .args(args)
        .env("SAVELOOPS_DATABASE__URL", &app.settings.database.url)
        .env(
            "SAVELOOPS_SECURITY__MASTER_KEY",
            app.settings.security.master_key.as_deref().unwrap(),
        )
        .env("SAVELOOPS_LOG__LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[actix_web::test]
async fn the_cli_shows_the_endpoint_and_stores_a_secret_read_from_stdin() {
    let app = TestApp::spawn().await;
    let org = app.organization_id.to_string();
    let shown = cli(
        &app,
        &[
            "endpoint",
            "--org",
            &org,
            "--base-url",
            "https://hooks.example.com/",
        ],
        "",
    );
    let (_, endpoint) = parts(app.get("/api/v1/stripe/webhook-endpoint").await).await;
    assert_eq!(shown["endpoint_id"], endpoint["endpoint_id"]);
    assert_eq!(
        shown["url"],
        format!(
            "https://hooks.example.com{}",
            endpoint["path"].as_str().unwrap()
        )
    );
    let secret = new_secret();
    let stored = cli(&app, &["add-secret", "--org", &org], &format!("{secret}\n"));
    assert!(!stored.to_string().contains("whsec_"), "{stored}");
    let listed = cli(&app, &["list-secrets", "--org", &org], "");
    assert_eq!(listed["data"][0]["id"], stored["id"]);

    let stripe = Stripe {
        app: &app,
        path: endpoint["path"].as_str().unwrap().to_owned(),
        secret,
    };
    let t = app.actors.clock.now().timestamp();
    let failed = event(
        "evt_cli",
        "invoice.payment_failed",
        t,
        invoice("cus_cli", "cli@example.com", "open"),
        None,
    );
    stripe.accepted(&failed).await;
    assert!(update_card_shown(&app, "cus_cli").await);
    let id = stored["id"].as_str().unwrap();
    assert_eq!(
        cli(&app, &["revoke-secret", "--org", &org, id], "")["revoked"],
        id
    );
}

//! `GET /api/v1/analytics/summary`: figures reconciled against what was sent, the
//! once-per-end-user-and-offer rule, attribution to targets and triggers, date filters,
//! dunning recovery and validation.
use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid, parts, TestApp};
use crate::ops_support::ops_app;

async fn summary(app: &TestApp, query: &str) -> Value {
    summary_as(app, &app.key, query).await
}

async fn summary_as(app: &TestApp, key: &str, query: &str) -> Value {
    let (status, body) = parts(
        app.get_as(key, &format!("/api/v1/analytics/summary{query}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn entry<'a>(list: &'a Value, key: &str, value: Value) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

/// impressions, saves, abandons, save_rate, saved_mrr of one slice.
fn figures(slice: &Value) -> (u64, u64, u64, Value, Value) {
    (
        slice["impressions"].as_u64().unwrap(),
        slice["saves"].as_u64().unwrap(),
        slice["abandons"].as_u64().unwrap(),
        slice["save_rate"].clone(),
        slice["saved_mrr"].clone(),
    )
}

async fn end_user_id(app: &TestApp, email: &str) -> i64 {
    entity::end_user::Entity::find()
        .filter(entity::end_user::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn ok(response: reqwest::Response) {
    let (status, body) = parts(response).await;
    assert!(status == 200, "{status}: {body}");
}

#[actix_web::test]
async fn figures_reconcile_with_the_outcomes_sent_counting_each_end_user_and_offer_once() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let a = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "cancel-btn"}),
        )
        .await;
    let b = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause", "target_id": "pricing"}))
        .await;

    // Five intercepts: three at the cancel button (A shown), two on pricing (B shown).
    for (email, target, trigger) in [
        (Some("u1@example.com"), "cancel-btn", Some("click")),
        (Some("u2@example.com"), "cancel-btn", Some("click")),
        (Some("u3@example.com"), "cancel-btn", Some("exit_intent")),
        (Some("u4@example.com"), "pricing", Some("hover")),
        (None, "pricing", None),
    ] {
        let mut body = json!({"target_id": target});
        if let Some(email) = email {
            body["user_email"] = json!(email);
        }
        if let Some(trigger) = trigger {
            body["trigger"] = json!(trigger);
        }
        ok(app.intercept(body).await).await;
    }
    // u1 saves with A; the client posts it twice: one save (29).
    for _ in 0..2 {
        ok(app
            .outcome(json!({"offer_id": a, "status": "saved", "user_email": "u1@example.com", "mrr_value": 29}))
            .await)
        .await;
    }
    // u2's save comes from apply-offer (an outcome with source apply_offer) and again from
    // the client: one save (50).
    ok(app
        .apply_offer(json!({"offer_id": a, "stripe_subscription_id": "sub_1",
                            "user_email": "u2@example.com", "mrr_value": 50}))
        .await)
    .await;
    ok(app
        .outcome(json!({"offer_id": a, "status": "saved", "user_email": "u2@example.com", "mrr_value": 50}))
        .await)
    .await;
    // u3 abandons A; u4 saves with B (10); an anonymous visitor saves with B (5).
    ok(app
        .outcome(json!({"offer_id": a, "status": "abandoned", "user_email": "u3@example.com"}))
        .await)
    .await;
    ok(app
        .outcome(json!({"offer_id": b, "status": "saved", "user_email": "u4@example.com", "mrr_value": 10}))
        .await)
    .await;
    ok(app
        .outcome(json!({"offer_id": b, "status": "saved", "mrr_value": 5.5}))
        .await)
    .await;
    let today = Utc::now().date_naive();

    let all = summary(&app, "").await;
    // 5 impressions; saves u1·A, u2·A, u4·B, anonymous·B; one abandon.
    assert_eq!(figures(&all), (5, 4, 1, json!(0.8), json!(94.5)), "{all}");
    assert!(all["target_id"].is_null());
    assert_eq!(
        all["by_day"].as_array().unwrap().len(),
        30,
        "the last 30 UTC days, today included"
    );
    let day = entry(&all["by_day"], "date", json!(today.to_string()));
    assert_eq!(figures(day), (5, 4, 1, json!(0.8), json!(94.5)));

    // By offer: impressions count the offers shown.
    let offer_a = entry(&all["by_offer"], "offer_id", json!(a));
    assert_eq!(figures(offer_a), (3, 2, 1, json!(0.6667), json!(79)));
    assert_eq!(
        (offer_a["label"].as_str(), offer_a["type"].as_str()),
        (Some("20% off"), Some("discount"))
    );
    let offer_b = entry(&all["by_offer"], "offer_id", json!(b));
    assert_eq!(figures(offer_b), (2, 2, 0, json!(1.0), json!(15.5)));

    // By target and trigger: an outcome belongs to its end user's latest intercept; the
    // anonymous save to its offer's target, trigger unknown.
    let cancel = entry(&all["by_target"], "target_id", json!("cancel-btn"));
    assert_eq!(figures(cancel), (3, 2, 1, json!(0.6667), json!(79)));
    let pricing = entry(&all["by_target"], "target_id", json!("pricing"));
    assert_eq!(figures(pricing), (2, 2, 0, json!(1.0), json!(15.5)));
    let click = entry(&all["by_trigger"], "trigger", json!("click"));
    assert_eq!(figures(click), (2, 2, 0, json!(1.0), json!(79)));
    let exit = entry(&all["by_trigger"], "trigger", json!("exit_intent"));
    assert_eq!(figures(exit), (1, 0, 1, json!(0.0), json!(0)));
    let hover = entry(&all["by_trigger"], "trigger", json!("hover"));
    assert_eq!(figures(hover), (1, 1, 0, json!(1.0), json!(10)));
    let unknown = entry(&all["by_trigger"], "trigger", Value::Null);
    assert_eq!(figures(unknown), (1, 1, 0, json!(1.0), json!(5.5)));

    // One target only.
    let only = summary(&app, "?target_id=cancel-btn").await;
    assert_eq!(only["target_id"], "cancel-btn");
    assert_eq!(figures(&only), (3, 2, 1, json!(0.6667), json!(79)));
    assert_eq!(only["by_offer"].as_array().unwrap().len(), 1);
    let only = summary(&app, "?target_id=pricing").await;
    assert_eq!(figures(&only), (2, 2, 0, json!(1.0), json!(15.5)));
    let none = summary(&app, "?target_id=elsewhere").await;
    assert_eq!(figures(&none), (0, 0, 0, Value::Null, json!(0)));

    // Another organization sees none of it.
    let (_, other_key) = app.second_organization().await;
    let theirs = summary_as(&app, &other_key, "").await;
    assert_eq!(figures(&theirs), (0, 0, 0, Value::Null, json!(0)));
    assert_eq!(theirs["by_offer"], json!([]));

    // Date filters. Move u1's intercept and both its outcome rows three days back.
    let u1 = end_user_id(&app, "u1@example.com").await;
    let three_days_ago = Utc::now() - Duration::days(3);
    entity::outcome::Entity::update_many()
        .col_expr(
            entity::outcome::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(three_days_ago),
        )
        .filter(entity::outcome::Column::EndUserId.eq(u1))
        .exec(&app.db)
        .await
        .unwrap();
    entity::impression::Entity::update_many()
        .col_expr(
            entity::impression::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(three_days_ago - Duration::seconds(1)),
        )
        .filter(entity::impression::Column::EndUserId.eq(u1))
        .exec(&app.db)
        .await
        .unwrap();
    // Rows edited in place: the rollups the writes kept are rebuilt from them.
    saveloops::store::analytics::rebuild(&app.db, None, None)
        .await
        .unwrap();
    let from_today = summary(&app, &format!("?from={today}")).await;
    assert_eq!(
        figures(&from_today),
        (4, 3, 1, json!(0.75), json!(65.5)),
        "{from_today}"
    );
    assert_eq!(from_today["by_day"].as_array().unwrap().len(), 1);
    let week = summary(
        &app,
        &format!("?from={}&to={today}", today - Duration::days(6)),
    )
    .await;
    assert_eq!(figures(&week), (5, 4, 1, json!(0.8), json!(94.5)));
    assert_eq!(week["by_day"].as_array().unwrap().len(), 7);
    let back_then = entry(
        &week["by_day"],
        "date",
        json!((three_days_ago.date_naive()).to_string()),
    );
    assert_eq!(figures(back_then), (1, 1, 0, json!(1.0), json!(29)));
    let click = entry(&week["by_trigger"], "trigger", json!("click"));
    assert_eq!(
        figures(click),
        (2, 2, 0, json!(1.0), json!(79)),
        "attribution survives"
    );
    // RFC 3339 bounds, both inclusive.
    let around = |at: chrono::DateTime<Utc>| {
        format!(
            "?from={}&to={}",
            (at - Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            (at + Duration::minutes(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    };
    let narrow = summary(&app, &around(three_days_ago)).await;
    assert_eq!(
        figures(&narrow),
        (1, 1, 0, json!(1.0), json!(29)),
        "{narrow}"
    );
    let future = summary(
        &app,
        &format!(
            "?from={}&to={}",
            today + Duration::days(1),
            today + Duration::days(2)
        ),
    )
    .await;
    assert_eq!(figures(&future), (0, 0, 0, Value::Null, json!(0)));
    let past = summary(&app, &format!("?to={}", today - Duration::days(4))).await;
    assert_eq!(figures(&past), (0, 0, 0, Value::Null, json!(0)));
}

#[actix_web::test]
async fn an_outcome_belongs_to_the_latest_intercept_before_it_within_a_day() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let a = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "offer-home"}),
        )
        .await;
    let intercept = |email: &'static str, target: &'static str, trigger: &'static str| {
        app.intercept(json!({"target_id": target, "user_email": email, "trigger": trigger}))
    };
    // Attribution is decided when the outcome is written: the test clock moves between the
    // intercepts. u2: its only intercept is 25 hours before its outcome: too old, so the
    // offer's target.
    let clock = app.actors.clock.clone();
    ok(intercept("u2@example.com", "cancel-btn", "exit_intent").await).await;
    clock.advance(Duration::hours(2));
    // u3: intercepts 23 hours before: still its.
    ok(intercept("u3@example.com", "pricing", "click").await).await;
    clock.advance(Duration::hours(21));
    // u1: pricing (2 h before), then the cancel button (1 h before), then settings after the
    // outcome: the cancel button's intercept is the one.
    ok(intercept("u1@example.com", "pricing", "hover").await).await;
    clock.advance(Duration::hours(1));
    ok(intercept("u1@example.com", "cancel-btn", "click").await).await;
    clock.advance(Duration::hours(1));
    let now = clock.now();
    for email in ["u1@example.com", "u2@example.com", "u3@example.com"] {
        ok(app
            .outcome(
                json!({"offer_id": a, "status": "saved", "user_email": email, "mrr_value": 10}),
            )
            .await)
        .await;
    }
    ok(intercept("u1@example.com", "settings", "hover").await).await;

    let all = summary(&app, "").await;
    let saves = |list: &Value, key: &str, value: Value| figures(entry(list, key, value)).1;
    assert_eq!(
        saves(&all["by_target"], "target_id", json!("cancel-btn")),
        1,
        "{all}"
    );
    assert_eq!(
        saves(&all["by_target"], "target_id", json!("pricing")),
        1,
        "{all}"
    );
    assert_eq!(
        saves(&all["by_target"], "target_id", json!("offer-home")),
        1,
        "{all}"
    );
    assert_eq!(
        saves(&all["by_trigger"], "trigger", json!("click")),
        2,
        "{all}"
    );
    assert_eq!(
        saves(&all["by_trigger"], "trigger", Value::Null),
        1,
        "{all}"
    );
    assert!(
        all["by_target"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["target_id"] != "settings" || t["saves"] == 0),
        "an intercept after the outcome is not its: {all}"
    );

    // A period that starts after the intercepts (half an hour ago) still attributes the
    // outcomes in it to them.
    let recent = summary(
        &app,
        &format!(
            "?from={}",
            (now - Duration::minutes(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    )
    .await;
    assert_eq!(figures(&recent).1, 3, "{recent}");
    assert_eq!(
        saves(&recent["by_target"], "target_id", json!("cancel-btn")),
        1,
        "{recent}"
    );
    assert_eq!(
        saves(&recent["by_target"], "target_id", json!("pricing")),
        1,
        "{recent}"
    );
    assert_eq!(
        saves(&recent["by_target"], "target_id", json!("offer-home")),
        1,
        "{recent}"
    );
}

#[actix_web::test]
async fn dunning_counts_flagged_end_users_and_those_a_payment_recovered() {
    let app = TestApp::spawn().await;
    for email in [
        "d1@example.com",
        "d2@example.com",
        "d3@example.com",
        "d3@example.com",
    ] {
        ok(app.dunning(json!({"user_email": email})).await).await;
    }
    ok(app
        .success_signal(json!({"event": "invoice.paid", "user_email": "d1@example.com"}))
        .await)
    .await;
    // Not a payment: d2 stays flagged.
    ok(app
        .success_signal(json!({"event": "onboarding_completed", "user_email": "d2@example.com"}))
        .await)
    .await;
    // d1 fails again: a new episode, still one end user.
    ok(app.dunning(json!({"user_email": "d1@example.com"})).await).await;
    let all = summary(&app, "").await;
    assert_eq!(
        all["dunning"],
        json!({"flagged": 3, "recovered": 1, "recovery_rate": 0.3333}),
        "{all}"
    );
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let later = summary(&app, &format!("?from={tomorrow}&to={tomorrow}")).await;
    assert_eq!(
        later["dunning"],
        json!({"flagged": 0, "recovered": 0, "recovery_rate": null})
    );
}

#[actix_web::test]
async fn the_period_is_validated_like_every_other_input() {
    let app = TestApp::spawn().await;
    let app = &app;
    let get = |query: &'static str| async move {
        app.get(&format!("/api/v1/analytics/summary{query}")).await
    };
    assert_invalid(
        get("?from=yesterday").await,
        "from",
        "The from field must be a valid date (RFC 3339 or YYYY-MM-DD).",
    )
    .await;
    assert_invalid(
        get("?to=2026-02-30").await,
        "to",
        "The to field must be a valid date (RFC 3339 or YYYY-MM-DD).",
    )
    .await;
    assert_invalid(
        get("?from=2026-03-02&to=2026-03-01").await,
        "to",
        "The to field must be a date after or equal to from.",
    )
    .await;
    assert_invalid(
        get("?from=2024-01-01&to=2026-01-01").await,
        "to",
        "The to field must be within 366 days of from.",
    )
    .await;
    let (status, body) = parts(get("?from=2026-03-01&to=2026-03-01").await).await;
    assert_eq!(status, 200, "a single day");
    assert_eq!(
        body["by_day"],
        json!([{"date": "2026-03-01", "impressions": 0, "saves": 0,
        "abandons": 0, "save_rate": null, "saved_mrr": 0}])
    );
    assert_eq!(body["from"], "2026-03-01T00:00:00Z");
    assert_eq!(body["until"], "2026-03-02T00:00:00Z");
    let offset_from = (Utc::now() - Duration::days(10))
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339()
        .replace('+', "%2B");
    let (status, body) = parts(
        app.get(&format!("/api/v1/analytics/summary?from={offset_from}"))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by_day"].as_array().unwrap().len(), 11);
    // With neither bound: the last 30 UTC days, today included, as whole days.
    let today = Utc::now().date_naive();
    let (status, body) = parts(get("").await).await;
    assert_eq!(status, 200, "{body}");
    let days = body["by_day"].as_array().unwrap();
    assert_eq!(days.len(), 30, "{body}");
    let last = days[29]["date"].as_str().unwrap();
    assert!(
        [today, today.succ_opt().unwrap()]
            .iter()
            .any(|d| d.to_string() == last),
        "the default period ends today: {last}"
    );
    let until = chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d").unwrap();
    let from = until - Duration::days(29);
    assert_eq!(body["from"], format!("{from}T00:00:00Z"));
    assert_eq!(
        body["until"],
        format!("{}T00:00:00Z", until.succ_opt().unwrap())
    );
    let unauthenticated = app
        .client
        .get(format!("{}/api/v1/analytics/summary", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[actix_web::test]
async fn cancellation_reasons_are_counted_by_suggested_action_and_category() {
    let app = TestApp::spawn().await;
    let text = crate::ops_support::scrape(&app).await;
    let created_before =
        crate::ops_support::metric(&text, "saveloops_tickets_total", &[("event", "created")])
            .unwrap();
    for (reason, target) in [
        ("Too expensive for now", Some("cancel-btn")),
        ("It's too expensive for our small team", None),
        (
            "Our business is seasonal, we'll be back in the spring",
            Some("cancel-btn"),
        ),
        (
            "Your app has been DOWN all week and support never answered!!! Worst service ever",
            Some("cancel-btn"),
        ),
    ] {
        let mut body = json!({"reason": reason});
        if let Some(target) = target {
            body["target_id"] = json!(target);
        }
        ok(app.post("/api/v1/intercept/sentiment", &body).await).await;
    }
    let all = summary(&app, "").await;
    let reasons = &all["cancellation_reasons"];
    assert_eq!(reasons["total"], 4, "{reasons}");
    assert_eq!(
        reasons["by_suggested_action"],
        json!([{"value": "discount", "count": 2}, {"value": "pause", "count": 1},
               {"value": "support", "count": 1}])
    );
    let by_category: u64 = reasons["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(by_category, 4);
    assert_eq!(
        reasons["by_language"],
        json!([{"value": "en", "count": 4}]),
        "{reasons}"
    );
    assert!(
        reasons["low_confidence"].as_u64().unwrap() <= 4,
        "{reasons}"
    );
    let at_the_button = summary(&app, "?target_id=cancel-btn").await;
    assert_eq!(at_the_button["cancellation_reasons"]["total"], 3);
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let later = summary(&app, &format!("?from={tomorrow}&to={tomorrow}")).await;
    assert_eq!(later["cancellation_reasons"]["total"], 0);

    // The support reason opened a ticket, and the metrics counted it.
    let text = crate::ops_support::scrape(&app).await;
    let created =
        crate::ops_support::metric(&text, "saveloops_tickets_total", &[("event", "created")])
            .unwrap();
    assert!(created > created_before, "{created} after {created_before}");
}

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid, parts, TestApp};

fn ids(answer: &Value) -> Vec<i64> {
    answer["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn intercept_answers_the_contract_shape_and_records_the_impression() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let (status, body) = parts(
        app.intercept(json!({
            "target_id": "cancel-btn",
            "user_email": "user@example.com",
            "trigger": "click",
            "stripe_customer_id": "cus_123",
            "stripe_subscription_id": "sub_123",
            "mrr_value": 29
        }))
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "offers": [{"id": offer, "type": "discount", "value": 20, "label": "20% off",
                        "config": {"duration": "once"}, "experiment": null}],
            "show_update_card": false,
            "show_onboarding_prompt": true
        })
    );
    let impressions = entity::impression::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(impressions.len(), 1);
    let impression = &impressions[0];
    assert_eq!(impression.target_id, "cancel-btn");
    assert_eq!(impression.trigger.as_deref(), Some("click"));
    assert_eq!(impression.mrr_e4, Some(290_000));
    assert_eq!(impression.offer_ids, format!("[{offer}]"));
    assert!(impression.end_user_id.is_some());
    let user = entity::end_user::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("user@example.com"));
    assert_eq!(user.stripe_customer_id.as_deref(), Some("cus_123"));
}

#[actix_web::test]
async fn anonymous_intercept_shows_no_prompts_and_creates_no_end_user() {
    let app = TestApp::spawn().await;
    let (status, body) = parts(app.intercept(json!({"target_id": "cancel-btn"})).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["show_update_card"], false);
    assert_eq!(body["show_onboarding_prompt"], false);
    assert_eq!(body["offers"], json!([]));
    let users = entity::end_user::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[actix_web::test]
async fn intercept_selects_by_target_trigger_mrr_and_activity_in_priority_order() {
    let app = TestApp::spawn().await;
    let everywhere = app
        .offer(json!({"type": "custom", "value": 0, "label": "anywhere", "priority": 1}))
        .await;
    let top = app
        .offer(
            json!({"type": "discount", "value": 30, "label": "top", "priority": 10,
                      "target_id": "cancel-btn"}),
        )
        .await;
    let other_target = app
        .offer(json!({"type": "discount", "value": 10, "label": "other", "target_id": "settings"}))
        .await;
    let exit_only = app
        .offer(json!({"type": "pause", "value": 1, "label": "pause", "triggers": ["exit_intent"]}))
        .await;
    let big_accounts = app
        .offer(json!({"type": "contact", "value": 0, "label": "call us",
                      "config": {"url": "https://cal.example.com/acme"},
                      "min_mrr": 100, "max_mrr": 1000}))
        .await;
    let inactive = app
        .offer(
            json!({"type": "custom", "value": 0, "label": "off", "active": false, "priority": 99}),
        )
        .await;

    let pick = |body: Value| async { ids(&parts(app.intercept(body).await).await.1) };
    assert_eq!(
        pick(json!({"target_id": "cancel-btn"})).await,
        vec![top, everywhere]
    );
    assert_eq!(
        pick(json!({"target_id": "cancel-btn", "trigger": "exit_intent"})).await,
        vec![top, everywhere, exit_only]
    );
    assert_eq!(
        pick(json!({"target_id": "cancel-btn", "trigger": "click", "mrr_value": 500})).await,
        vec![top, everywhere, big_accounts]
    );
    assert_eq!(
        pick(json!({"target_id": "cancel-btn", "mrr_value": 1000.5})).await,
        vec![top, everywhere]
    );
    assert_eq!(
        pick(json!({"target_id": "settings", "mrr_value": 100})).await,
        vec![everywhere, other_target, big_accounts]
    );
    // A page no offer targets still gets the offers with no target.
    assert_eq!(
        pick(json!({"target_id": "pricing", "trigger": "exit_intent"})).await,
        vec![everywhere, exit_only]
    );
    assert!(!pick(json!({"target_id": "cancel-btn"}))
        .await
        .contains(&inactive));

    // A change made through the API is visible at once (the cache is invalidated).
    let response = app.patch_offer(inactive, json!({"active": true})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(pick(json!({"target_id": "cancel-btn"})).await[0], inactive);
}

#[actix_web::test]
async fn intercept_validation_follows_the_contract() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), "target_id", "The target id field is required."),
        (
            json!({"target_id": ""}),
            "target_id",
            "The target id field is required.",
        ),
        (
            json!({"target_id": 7}),
            "target_id",
            "The target id field must be a string.",
        ),
        (
            json!({"target_id": "x".repeat(256)}),
            "target_id",
            "The target id field must not be greater than 255 characters.",
        ),
        (
            json!({"target_id": "x", "user_email": "nope"}),
            "user_email",
            "The user email field must be a valid email address.",
        ),
        (
            json!({"target_id": "x", "trigger": "scroll"}),
            "trigger",
            "The selected trigger is invalid.",
        ),
        (
            json!({"target_id": "x", "mrr_value": -1}),
            "mrr_value",
            "The mrr value field must be at least 0.",
        ),
        (
            json!({"target_id": "x", "mrr_value": "lots"}),
            "mrr_value",
            "The mrr value field must be a number.",
        ),
        (
            json!({"target_id": "x", "stripe_customer_id": 5}),
            "stripe_customer_id",
            "The stripe customer id field must be a string.",
        ),
        (
            json!({"target_id": "x", "stripe_subscription_id": ["s"]}),
            "stripe_subscription_id",
            "The stripe subscription id field must be a string.",
        ),
    ];
    for (body, field, message) in cases {
        assert_invalid(app.intercept(body).await, field, message).await;
    }
    // Nothing was written by the rejected requests.
    assert_eq!(
        entity::impression::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        entity::end_user::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    // 255 characters exactly is fine; so is 0 MRR and a 255-character customer id.
    let (status, _) = parts(
        app.intercept(json!({"target_id": "x".repeat(255), "mrr_value": 0,
                             "stripe_customer_id": "c".repeat(255)}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn outcomes_are_recorded_against_the_offer_and_end_user() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let (status, body) = parts(
        app.outcome(json!({"offer_id": offer, "status": "saved",
                           "user_email": "User@Example.com", "mrr_value": 29.99}))
            .await,
    )
    .await;
    assert_eq!((status, body), (200, json!({"message": "Recorded"})));
    let (status, _) = parts(
        app.outcome(json!({"offer_id": offer, "status": "abandoned"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let outcomes = entity::outcome::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(outcomes.len(), 2);
    let saved = outcomes.iter().find(|o| o.status == "saved").unwrap();
    assert_eq!(saved.offer_id, offer);
    assert_eq!(saved.mrr_e4, Some(299_900), "money is kept exactly");
    let user = entity::end_user::Entity::find_by_id(saved.end_user_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("user@example.com"));
    assert!(outcomes
        .iter()
        .any(|o| o.status == "abandoned" && o.end_user_id.is_none()));
}

#[actix_web::test]
async fn outcome_validation_follows_the_contract() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let cases = [
        (
            json!({"status": "saved"}),
            "offer_id",
            "The offer id field is required.",
        ),
        (
            json!({"offer_id": "abc", "status": "saved"}),
            "offer_id",
            "The offer id field must be an integer.",
        ),
        (
            json!({"offer_id": 1.5, "status": "saved"}),
            "offer_id",
            "The offer id field must be an integer.",
        ),
        (
            json!({"offer_id": offer + 1000, "status": "saved"}),
            "offer_id",
            "The selected offer id is invalid.",
        ),
        (
            json!({"offer_id": offer}),
            "status",
            "The status field is required.",
        ),
        (
            json!({"offer_id": offer, "status": "maybe"}),
            "status",
            "The selected status is invalid.",
        ),
        (
            json!({"offer_id": offer, "status": "saved", "user_email": "x@"}),
            "user_email",
            "The user email field must be a valid email address.",
        ),
        (
            json!({"offer_id": offer, "status": "saved", "mrr_value": -0.01}),
            "mrr_value",
            "The mrr value field must be at least 0.",
        ),
    ];
    for (body, field, message) in cases {
        assert_invalid(app.outcome(body).await, field, message).await;
    }
    assert_eq!(
        entity::outcome::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

#[actix_web::test]
async fn concurrent_writes_are_group_committed_and_none_is_lost() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let requests = (0..60).map(|i| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                app.intercept(
                    json!({"target_id": "cancel-btn", "user_email": format!("u{i}@example.com")}),
                )
                .await
                .status()
            } else {
                app.outcome(json!({"offer_id": offer, "status": "saved"}))
                    .await
                    .status()
            }
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| s.as_u16() == 200), "{statuses:?}");
    // Every answered request's row is already committed.
    assert_eq!(
        entity::impression::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        30
    );
    assert_eq!(
        entity::outcome::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        30
    );
}

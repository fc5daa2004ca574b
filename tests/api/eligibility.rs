//! Eligibility: cooldowns, redemption caps and the subscription rule, at intercept, in
//! sentiment suggestions and again at apply-offer; organization settings and validation.
use serde_json::{json, Value};

use crate::fake_stripe::FakeStripe;
use crate::helpers::{assert_invalid, parts, test_settings, TestApp};

const STRIPE_KEY: &str = "sk_test_saveloops_4eC39HqLyjWDarjtT1zdp7dc";

async fn app_with_stripe() -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start().await;
    for n in 1..=5 {
        stripe.add_subscription(
            &format!("sub_{n}"),
            &format!("cus_{n}"),
            &format!("si_{n}"),
            "price_pro",
            None,
        );
    }
    let mut settings = test_settings().await;
    settings.stripe.api_base = stripe.base_url();
    let app = TestApp::spawn_with(settings).await;
    app.set_stripe_key(STRIPE_KEY).await;
    (app, stripe)
}

async fn shown(app: &TestApp, body: Value) -> Vec<i64> {
    let (status, answer) = parts(app.intercept(body).await).await;
    assert_eq!(status, 200, "{answer}");
    answer["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

fn for_user(email: &str) -> Value {
    json!({"target_id": "cancel-btn", "user_email": email})
}

async fn apply(app: &TestApp, offer: i64, subscription: &str, email: &str) -> (u16, Value) {
    parts(
        app.apply_offer(
            json!({"offer_id": offer, "stripe_subscription_id": subscription,
                               "user_email": email, "mrr_value": 29}),
        )
        .await,
    )
    .await
}

#[actix_web::test]
async fn an_accepted_offer_is_under_cooldown_at_intercept_and_at_apply_offer() {
    let (app, stripe) = app_with_stripe().await;
    let discount = app
        .offer(json!({"type": "discount", "value": 20, "label": "20% off", "cooldown_days": 90}))
        .await;
    let contact = app
        .offer(json!({"type": "contact", "value": 0, "label": "Talk to us",
                      "config": {"url": "https://cal.example.com/acme"}}))
        .await;
    assert_eq!(
        shown(&app, for_user("ann@example.com")).await,
        vec![discount, contact]
    );
    // Ann accepts the discount (reported by the client).
    app.outcome(json!({"offer_id": discount, "status": "saved", "user_email": "ann@example.com"}))
        .await;
    assert_eq!(
        shown(&app, for_user("ann@example.com")).await,
        vec![contact]
    );
    // An abandoned outcome is no acceptance; other people are not affected.
    app.outcome(
        json!({"offer_id": discount, "status": "abandoned", "user_email": "bob@example.com"}),
    )
    .await;
    assert_eq!(
        shown(&app, for_user("bob@example.com")).await,
        vec![discount, contact]
    );
    // Anonymous calls cannot be tied to anyone's history.
    assert_eq!(
        shown(&app, json!({"target_id": "cancel-btn"})).await,
        vec![discount, contact]
    );

    // apply-offer refuses it for Ann with a clear 422, before anything reaches Stripe.
    let (status, body) = apply(&app, discount, "sub_1", "ann@example.com").await;
    assert_eq!(status, 422, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("This offer is not available: the customer accepted this offer on "),
        "{message}"
    );
    assert!(message.contains("(cooldown of 90 days)"), "{message}");
    assert!(stripe.requests().is_empty());

    // Bob applies it: an application is an acceptance too.
    let (status, body) = apply(&app, discount, "sub_2", "bob@example.com").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        shown(&app, for_user("bob@example.com")).await,
        vec![contact]
    );
    let (status, _) = apply(&app, discount, "sub_2", "bob@example.com").await;
    assert_eq!(status, 422);

    // A type cooldown from the organization's settings hides every discount after one.
    let (status, settings) =
        parts(app.patch_settings(json!({"type_cooldown_days": 30})).await).await;
    assert_eq!(status, 200, "{settings}");
    let another = app
        .offer(json!({"type": "discount", "value": 10, "label": "10% off"}))
        .await;
    let exempt = app
        .offer(json!({"type": "discount", "value": 5, "label": "5% off", "type_cooldown_days": 0}))
        .await;
    assert_eq!(
        shown(&app, for_user("ann@example.com")).await,
        vec![contact, exempt],
        "{another} is under the type cooldown"
    );
    let (status, body) = apply(&app, another, "sub_1", "ann@example.com").await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("accepted a discount offer"),
        "{body}"
    );
    assert_eq!(
        shown(&app, for_user("carl@example.com")).await,
        vec![discount, contact, another, exempt]
    );
}

#[actix_web::test]
async fn redemption_caps_in_total_and_per_end_user() {
    let (app, _stripe) = app_with_stripe().await;
    let limited = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause", "max_redemptions": 2}))
        .await;
    let twice = app
        .offer(
            json!({"type": "custom", "value": 0, "label": "Gift", "max_redemptions_per_user": 2}),
        )
        .await;
    for (n, email) in ["a@example.com", "b@example.com"].iter().enumerate() {
        assert!(shown(&app, for_user(email)).await.contains(&limited));
        let (status, body) = apply(&app, limited, &format!("sub_{}", n + 1), email).await;
        assert_eq!(status, 200, "{body}");
    }
    // Two redemptions: nobody is shown it any more, and apply-offer refuses it.
    assert!(!shown(&app, for_user("c@example.com"))
        .await
        .contains(&limited));
    assert!(!shown(&app, json!({"target_id": "cancel-btn"}))
        .await
        .contains(&limited));
    let (status, body) = apply(&app, limited, "sub_3", "c@example.com").await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "This offer is not available: this offer has reached its limit of 2 redemptions."
    );

    // Per end user: twice each.
    for _ in 0..2 {
        assert!(shown(&app, for_user("d@example.com"))
            .await
            .contains(&twice));
        app.outcome(json!({"offer_id": twice, "status": "saved", "user_email": "d@example.com"}))
            .await;
    }
    assert!(!shown(&app, for_user("d@example.com"))
        .await
        .contains(&twice));
    assert!(shown(&app, for_user("e@example.com"))
        .await
        .contains(&twice));
    // The organization default caps every offer at once per end user, unless an offer says otherwise.
    app.patch_settings(json!({"max_redemptions_per_user": 1}))
        .await;
    let once = app
        .offer(json!({"type": "custom", "value": 0, "label": "Once"}))
        .await;
    app.outcome(json!({"offer_id": once, "status": "saved", "user_email": "e@example.com"}))
        .await;
    let offers = shown(&app, for_user("e@example.com")).await;
    assert!(
        !offers.contains(&once) && offers.contains(&twice),
        "{offers:?}"
    );
}

#[actix_web::test]
async fn offers_that_change_a_subscription_need_a_way_to_find_it_when_the_org_asks() {
    let app = TestApp::spawn().await;
    let discount = app.discount_offer().await;
    let contact = app
        .offer(json!({"type": "contact", "value": 0, "label": "Talk to us",
                      "config": {"url": "https://cal.example.com/acme"}}))
        .await;
    let anyway = app
        .offer(
            json!({"type": "pause", "value": 1, "label": "Pause", "requires_subscription": false}),
        )
        .await;
    // Off by default.
    assert_eq!(
        shown(&app, for_user("x@example.com")).await,
        vec![discount, contact, anyway]
    );
    let (status, settings) = parts(
        app.patch_settings(json!({"require_subscription_for_changes": true}))
            .await,
    )
    .await;
    assert_eq!(
        (status, &settings["require_subscription_for_changes"]),
        (200, &json!(true))
    );
    assert_eq!(
        shown(&app, for_user("x@example.com")).await,
        vec![contact, anyway]
    );
    for body in [
        json!({"target_id": "cancel-btn", "stripe_subscription_id": "sub_1"}),
        json!({"target_id": "cancel-btn", "stripe_customer_id": "cus_9"}),
        // Known by email now that Saveloops has seen the customer id with it.
        json!({"target_id": "cancel-btn", "user_email": "y@example.com", "stripe_customer_id": "cus_8"}),
        json!({"target_id": "cancel-btn", "user_email": "y@example.com"}),
    ] {
        assert_eq!(
            shown(&app, body.clone()).await,
            vec![discount, contact, anyway],
            "{body}"
        );
    }
}

#[actix_web::test]
async fn sentiment_suggestions_respect_eligibility_for_a_known_end_user() {
    use saveloops::actors::offer_selector::OffersOfTypes;
    use saveloops::domain::{Email, EndUserRef, OfferType};
    let app = TestApp::spawn().await;
    let discount = app
        .offer(json!({"type": "discount", "value": 20, "label": "20% off", "cooldown_days": 30}))
        .await;
    app.outcome(json!({"offer_id": discount, "status": "saved", "user_email": "ann@example.com"}))
        .await;
    // The offers come back as JSON text (an array).
    let app = &app;
    let suggest = |who: Option<EndUserRef>| async move {
        let text = app
            .actors
            .offers
            .send(OffersOfTypes {
                organization_id: app.organization_id,
                types: vec![OfferType::Discount],
                target_id: None,
                who,
            })
            .await
            .unwrap()
            .unwrap();
        serde_json::from_str::<Vec<Value>>(&text).unwrap()
    };
    let ann = EndUserRef::new(Email::parse("ann@example.com").ok(), None);
    assert_eq!(suggest(ann).await, Vec::<Value>::new());
    let bob = EndUserRef::new(Email::parse("bob@example.com").ok(), None);
    assert_eq!(suggest(bob).await.len(), 1);
    // Without an end user (the call as it was before) nothing is filtered.
    assert_eq!(suggest(None).await.len(), 1);
}

#[actix_web::test]
async fn settings_and_offer_rules_are_validated_and_documented_defaults_apply() {
    let app = TestApp::spawn().await;
    let (status, defaults) = parts(app.get("/api/v1/settings").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        defaults,
        json!({"offer_cooldown_days": null, "type_cooldown_days": null, "max_redemptions_per_user": null,
               "require_subscription_for_changes": false, "experiment_confidence": 0.95,
               "experiment_min_sample_size": 100, "allowed_origins": [],
               "save_validation_days": 30})
    );
    for (body, field, message) in [
        (
            json!({"offer_cooldown_days": 0}),
            "offer_cooldown_days",
            "The offer cooldown days field must be between 1 and 3650.",
        ),
        (
            json!({"type_cooldown_days": "soon"}),
            "type_cooldown_days",
            "The type cooldown days field must be an integer.",
        ),
        (
            json!({"require_subscription_for_changes": "yes"}),
            "require_subscription_for_changes",
            "The require subscription for changes field must be true or false.",
        ),
        (
            json!({"experiment_confidence": 1}),
            "experiment_confidence",
            "The experiment confidence field must be between 0.5 and 0.999.",
        ),
        (
            json!({"experiment_min_sample_size": -3}),
            "experiment_min_sample_size",
            "The experiment min sample size field must be between 1 and 10000000.",
        ),
    ] {
        assert_invalid(app.patch_settings(body).await, field, message).await;
    }
    let (status, changed) = parts(
        app.patch_settings(json!({"offer_cooldown_days": 14, "experiment_confidence": 0.9}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            changed["offer_cooldown_days"].as_u64(),
            changed["experiment_confidence"].as_f64()
        ),
        (Some(14), Some(0.9))
    );
    // PATCH changes only what it names; null clears.
    let (_, cleared) = parts(
        app.patch_settings(json!({"offer_cooldown_days": null}))
            .await,
    )
    .await;
    assert_eq!(
        (
            cleared["offer_cooldown_days"].clone(),
            cleared["experiment_confidence"].as_f64()
        ),
        (Value::Null, Some(0.9))
    );
    // Another organization has its own settings.
    let (_, other_key) = app.second_organization().await;
    let (_, theirs) = parts(app.get_as(&other_key, "/api/v1/settings").await).await;
    assert_eq!(theirs, defaults);

    let base = json!({"type": "discount", "value": 10, "label": "x"});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (body, field, message) in [
        (
            with(json!({"cooldown_days": -1})),
            "cooldown_days",
            "The cooldown days field must be between 0 and 3650.",
        ),
        (
            with(json!({"type_cooldown_days": 4000})),
            "type_cooldown_days",
            "The type cooldown days field must be between 0 and 3650.",
        ),
        (
            with(json!({"max_redemptions": 0})),
            "max_redemptions",
            "The max redemptions field must be between 1 and 1000000000.",
        ),
        (
            with(json!({"max_redemptions_per_user": 1.5})),
            "max_redemptions_per_user",
            "The max redemptions per user field must be an integer.",
        ),
        (
            with(json!({"requires_subscription": "no"})),
            "requires_subscription",
            "The requires subscription field must be true or false.",
        ),
    ] {
        assert_invalid(app.create_offer(body).await, field, message).await;
    }
    let (status, offer) = parts(
        app.create_offer(with(json!({"cooldown_days": 30, "max_redemptions": 100})))
            .await,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        (
            offer["cooldown_days"].clone(),
            offer["type_cooldown_days"].clone(),
            offer["max_redemptions"].clone(),
            offer["max_redemptions_per_user"].clone(),
            offer["requires_subscription"].clone()
        ),
        (json!(30), Value::Null, json!(100), Value::Null, Value::Null)
    );
    let id = offer["id"].as_i64().unwrap();
    let (status, patched) = parts(
        app.patch_offer(
            id,
            json!({"cooldown_days": null, "requires_subscription": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            patched["cooldown_days"].clone(),
            patched["max_redemptions"].clone(),
            patched["requires_subscription"].clone()
        ),
        (Value::Null, json!(100), json!(true))
    );
}

#[actix_web::test]
async fn the_sentiment_endpoint_filters_by_eligibility_and_serves_experiment_arms() {
    let app = TestApp::spawn().await;
    let discount = app
        .offer(json!({"type": "discount", "value": 20, "label": "20% off", "cooldown_days": 30}))
        .await;
    let app = &app;
    let analyze = |email: &str| {
        let body = json!({"reason": "Too expensive for now", "user_email": email, "target_id": "cancel-form"});
        async move { app.post("/api/v1/intercept/sentiment", &body).await }
    };
    let ids = |answer: &Value| -> Vec<i64> {
        answer["offers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect()
    };
    let (status, answer) = parts(analyze("ann@example.com").await).await;
    assert_eq!(
        (status, answer["suggested_action"].as_str()),
        (200, Some("discount")),
        "{answer}"
    );
    assert_eq!(ids(&answer), vec![discount]);
    app.outcome(json!({"offer_id": discount, "status": "saved", "user_email": "ann@example.com"}))
        .await;
    let (_, answer) = parts(analyze("ann@example.com").await).await;
    assert_eq!(ids(&answer), Vec::<i64>::new(), "under cooldown: {answer}");

    // A running experiment on the sentiment target supplies the end user's arm.
    let bigger = app
        .offer(json!({"type": "discount", "value": 30, "label": "30% off", "active": false}))
        .await;
    let experiment = app
        .experiment(
            json!({"name": "Bigger discount", "target_id": "cancel-form", "status": "running",
                           "arms": [{"name": "control", "offer_ids": [discount]},
                                    {"name": "bigger", "offer_ids": [bigger]}]}),
        )
        .await;
    let (_, answer) = parts(analyze("bob@example.com").await).await;
    let offer = &answer["offers"][0];
    let arm = offer["experiment"]["arm"].as_str().unwrap();
    assert_eq!(offer["experiment"]["id"], experiment["id"]);
    assert_eq!(
        offer["id"].as_i64(),
        Some(if arm == "control" { discount } else { bigger })
    );
    // The same arm as the cancel flow gives Bob.
    let (_, intercepted) = parts(
        app.intercept(json!({"target_id": "cancel-form", "user_email": "bob@example.com"}))
            .await,
    )
    .await;
    assert_eq!(intercepted["offers"][0]["experiment"]["arm"], arm);
}

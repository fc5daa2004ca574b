//! Experiments: deterministic assignment, weights, attribution, results against hand-computed
//! figures, promotion, validation and isolation between organizations.
use std::collections::HashMap;

use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::fake_stripe::FakeStripe;
use crate::helpers::{assert_invalid, parts, test_settings, TestApp};

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-5)
}

/// Control: the live 20 % discount. Arm b: a pause offer made for the experiment (inactive,
/// so it shows only through the experiment).
async fn two_arm_setup(app: &TestApp, weights: (u32, u32)) -> (i64, i64, Value) {
    let control = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "cancel-btn"}),
        )
        .await;
    let pause = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause a month", "active": false}))
        .await;
    let experiment = app
        .experiment(json!({
            "name": "Discount or pause", "target_id": "cancel-btn", "status": "running",
            "arms": [
                {"name": "control", "offer_ids": [control], "weight": weights.0, "control": true},
                {"name": "b", "offer_ids": [pause], "weight": weights.1}
            ]
        }))
        .await;
    (control, pause, experiment)
}

async fn intercept_arm(app: &TestApp, body: Value) -> (String, Vec<i64>) {
    let (status, answer) = parts(app.intercept(body).await).await;
    assert_eq!(status, 200, "{answer}");
    let offers = answer["offers"].as_array().unwrap();
    let arm = offers[0]["experiment"]["arm"].as_str().unwrap().to_owned();
    assert!(
        offers
            .iter()
            .all(|o| o["experiment"]["arm"] == arm.as_str()),
        "{answer}"
    );
    (
        arm,
        offers.iter().map(|o| o["id"].as_i64().unwrap()).collect(),
    )
}

#[actix_web::test]
async fn an_end_user_sees_the_same_arm_on_every_call_and_offers_carry_the_experiment() {
    let app = TestApp::spawn().await;
    let (control, pause, experiment) = two_arm_setup(&app, (50, 50)).await;
    let id = experiment["id"].as_i64().unwrap();
    assert_eq!(experiment["status"], "running");
    assert_eq!(experiment["control_arm"], "control");
    assert!(experiment["started_at"].is_string());

    let mut seen = HashMap::new();
    for n in 0..40 {
        let email = format!("user{n}@example.com");
        let (arm, offers) = intercept_arm(
            &app,
            json!({"target_id": "cancel-btn", "user_email": email}),
        )
        .await;
        let expected = if arm == "control" { control } else { pause };
        assert_eq!(offers, vec![expected], "an arm shows its own offers only");
        // The same person again, also when known by a Stripe customer id as well (one end user).
        for body in [
            json!({"target_id": "cancel-btn", "user_email": email, "trigger": "click"}),
            json!({"target_id": "cancel-btn", "user_email": email, "stripe_customer_id": format!("cus_{n}")}),
            json!({"target_id": "cancel-btn", "stripe_customer_id": format!("cus_{n}")}),
        ] {
            assert_eq!(intercept_arm(&app, body).await.0, arm, "{email}");
        }
        seen.insert(email, arm);
    }
    let arms: std::collections::HashSet<_> = seen.values().collect();
    assert_eq!(arms.len(), 2, "40 users land in both arms");

    let (_, answer) = parts(
        app.intercept(json!({"target_id": "cancel-btn", "user_email": "user0@example.com"}))
            .await,
    )
    .await;
    assert_eq!(
        answer["offers"][0]["experiment"],
        json!({"id": id, "name": "Discount or pause", "arm": seen["user0@example.com"]})
    );
    // Exposures: one per end user, however often they came back.
    let assignments = entity::experiment_assignment::Entity::find()
        .filter(entity::experiment_assignment::Column::ExperimentId.eq(id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(assignments, 40);
    let attributed = entity::impression::Entity::find()
        .filter(entity::impression::Column::ExperimentId.eq(id))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(attributed, 161);

    // Another target is not in the experiment: normal offers, no experiment.
    let (_, other) = parts(
        app.intercept(json!({"target_id": "settings-page", "user_email": "user0@example.com"}))
            .await,
    )
    .await;
    assert_eq!(other["offers"].as_array().unwrap().len(), 0, "{other}");
}

#[actix_web::test]
async fn weights_are_honoured_for_known_and_anonymous_end_users() {
    let app = TestApp::spawn().await;
    let (_, _, experiment) = two_arm_setup(&app, (20, 80)).await;
    let id = experiment["id"].as_i64().unwrap();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for chunk in (0..1000).collect::<Vec<_>>().chunks(25) {
        let answers = join_all(chunk.iter().map(|n| {
            intercept_arm(
                &app,
                json!({"target_id": "cancel-btn", "user_email": format!("synthetic{n}@example.com")}),
            )
        }))
        .await;
        for (arm, _) in answers {
            *counts.entry(arm).or_default() += 1;
        }
    }
    // Expected 200 / 800 with a standard deviation of 12.6; assignment is a fixed hash, so the
    // outcome is the same on every run, and ±80 is more than 6 standard deviations anyway.
    assert!((120..=280).contains(&counts["control"]), "{counts:?}");
    assert_eq!(counts["control"] + counts["b"], 1000);

    // Anonymous calls are assigned at random, each on its own, and each is recorded.
    let mut anonymous: HashMap<String, u32> = HashMap::new();
    for _ in 0..10 {
        let answers =
            join_all((0..40).map(|_| intercept_arm(&app, json!({"target_id": "cancel-btn"}))))
                .await;
        for (arm, _) in answers {
            *anonymous.entry(arm).or_default() += 1;
        }
    }
    // 400 calls at 20 %: expected 80, sd 8; [30, 140] is beyond 6 sd either way.
    let control = anonymous.get("control").copied().unwrap_or(0);
    assert!((30..=140).contains(&control), "{anonymous:?}");
    let anonymous_rows = entity::experiment_assignment::Entity::find()
        .filter(entity::experiment_assignment::Column::ExperimentId.eq(id))
        .filter(entity::experiment_assignment::Column::EndUserId.is_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(anonymous_rows, 400);
    let results = app.results(id).await;
    let exposures: u64 = results["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["exposures"].as_u64().unwrap())
        .sum();
    assert_eq!(exposures, 1400);
}

/// Creates `n` end users per arm without exposing them (success signals), using the
/// documented assignment (SHA-256 of experiment id and end user id) to pick who goes where.
async fn users_per_arm(
    app: &TestApp,
    experiment: &Value,
    n: usize,
) -> HashMap<String, Vec<String>> {
    let arms: Vec<saveloops::domain::experiment::Arm> =
        serde_json::from_value(experiment["arms"].clone()).unwrap();
    let id = experiment["id"].as_i64().unwrap();
    let mut picked: HashMap<String, Vec<String>> = HashMap::new();
    let mut next = 0;
    while picked.values().map(Vec::len).sum::<usize>() < n * arms.len() {
        let emails: Vec<String> = (next..next + 20)
            .map(|i| format!("person{i}@example.com"))
            .collect();
        next += 20;
        let answers = join_all(
            emails
                .iter()
                .map(|email| app.success_signal(json!({"event": "login", "user_email": email}))),
        )
        .await;
        for (email, response) in emails.into_iter().zip(answers) {
            let (_, body) = parts(response).await;
            let user = body["end_user_id"].as_i64().unwrap();
            let arm = &arms[saveloops::domain::experiment::assign(id, user, &arms)].name;
            let list = picked.entry(arm.clone()).or_default();
            if list.len() < n {
                list.push(email);
            }
        }
    }
    picked
}

#[actix_web::test]
async fn results_match_hand_computed_figures_and_the_winner_can_be_promoted() {
    let app = TestApp::spawn().await;
    let (control, pause, experiment) = two_arm_setup(&app, (50, 50)).await;
    let id = experiment["id"].as_i64().unwrap();
    let people = users_per_arm(&app, &experiment, 100).await;

    // Exposure: every picked person sees the cancel flow once (one control person twice).
    for (arm, emails) in &people {
        for chunk in emails.chunks(25) {
            let answers = join_all(chunk.iter().map(|email| {
                intercept_arm(
                    &app,
                    json!({"target_id": "cancel-btn", "user_email": email}),
                )
            }))
            .await;
            for (seen, _) in answers {
                assert_eq!(&seen, arm, "the documented assignment is the one served");
            }
        }
    }
    intercept_arm(
        &app,
        json!({"target_id": "cancel-btn", "user_email": people["control"][0]}),
    )
    .await;

    // Control: 30 of 100 save at MRR 10. Arm b: 45 of 100 save at MRR 20; one of them reports
    // the save twice, which is still one saved person.
    let record = |offer: i64, email: &str, saved: bool, mrr: u32| {
        app.outcome(
            json!({"offer_id": offer, "status": if saved {"saved"} else {"abandoned"},
                           "user_email": email, "mrr_value": mrr}),
        )
    };
    for (i, email) in people["control"].iter().enumerate() {
        assert_eq!(record(control, email, i < 30, 10).await.status(), 200);
    }
    for (i, email) in people["b"].iter().enumerate() {
        assert_eq!(record(pause, email, i < 45, 20).await.status(), 200);
    }
    assert_eq!(record(pause, &people["b"][0], true, 20).await.status(), 200);
    // A save by someone never exposed to the experiment is not credited to it.
    assert_eq!(
        record(control, "stranger@example.com", true, 10)
            .await
            .status(),
        200
    );

    let results = app.results(id).await;
    assert_eq!(results["confidence"], json!(0.95));
    assert_eq!(results["min_sample_size"], json!(100));
    let arm = |name: &str| {
        results["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    let (c, b) = (arm("control"), arm("b"));
    assert_eq!(c["control"], true);
    assert_eq!(
        (
            c["impressions"].as_u64(),
            c["exposures"].as_u64(),
            c["saves"].as_u64()
        ),
        (Some(101), Some(100), Some(30))
    );
    assert_eq!(
        (
            b["impressions"].as_u64(),
            b["exposures"].as_u64(),
            b["saves"].as_u64()
        ),
        (Some(100), Some(100), Some(45))
    );
    // Save rates with Wilson 95 % intervals:
    //   30/100 → 0.30, [0.218949, 0.395849];  45/100 → 0.45, [0.356145, 0.547554].
    assert!(close(&c["save_rate"], 0.30) && close(&b["save_rate"], 0.45));
    assert!(close(&c["save_rate_interval"]["low"], 0.218_949), "{c}");
    assert!(close(&c["save_rate_interval"]["high"], 0.395_849), "{c}");
    assert!(close(&b["save_rate_interval"]["low"], 0.356_145), "{b}");
    assert!(close(&b["save_rate_interval"]["high"], 0.547_554), "{b}");
    // Saved MRR: 30 × 10 and 45 × 20.
    assert_eq!(c["saved_mrr"], json!(300));
    assert_eq!(b["saved_mrr"], json!(900));
    // b − control = 0.15; pooled p = 0.375, se = sqrt(0.375 × 0.625 × 0.02) = 0.0684653,
    // z = 2.190890, two-sided p = 0.028460; the unpooled 95 % interval is [0.017430, 0.282570].
    assert_eq!(c["vs_control"], Value::Null);
    let versus = &b["vs_control"];
    assert!(close(&versus["difference"], 0.15), "{versus}");
    assert!(close(&versus["z"], 2.190_890), "{versus}");
    assert!(close(&versus["p_value"], 0.028_460), "{versus}");
    assert!(
        close(&versus["difference_interval"]["low"], 0.017_430),
        "{versus}"
    );
    assert!(
        close(&versus["difference_interval"]["high"], 0.282_570),
        "{versus}"
    );
    assert_eq!(versus["significant"], true);
    assert_eq!(results["verdict"], "arm b wins");
    assert_eq!(results["winner"], "b");

    // The same data is not enough at 99 % confidence, nor with a larger minimum sample.
    let (status, _) = parts(app.patch_experiment(id, json!({"confidence": 0.99})).await).await;
    assert_eq!(status, 200);
    assert_eq!(app.results(id).await["verdict"], "no difference yet");
    let (status, _) = parts(
        app.patch_experiment(id, json!({"confidence": 0.95, "min_sample_size": 150}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let small = app.results(id).await;
    assert_eq!(small["verdict"], "no difference yet");
    assert_eq!(small["winner"], Value::Null);
    assert!(small["verdict_reason"].as_str().unwrap().contains("150"));
    // Without a winner there is nothing to promote, and nothing changes.
    assert_invalid(
        app.patch_experiment(id, json!({"status": "stopped", "promote_winner": true}))
            .await,
        "promote_winner",
        "There is no winner to promote (no difference yet): Arm control has 100 of the 150 exposures every arm needs before a winner can be named.",
    )
    .await;
    let (_, still) = parts(app.get(&format!("/api/v1/experiments/{id}")).await).await;
    assert_eq!(still["status"], "running");

    // With the winner: stop and promote. b's pause offer goes live; the control's discount
    // was live before the experiment and stays as it is.
    app.patch_experiment(id, json!({"min_sample_size": 100}))
        .await;
    let (status, stopped) = parts(
        app.patch_experiment(id, json!({"status": "stopped", "promote_winner": true}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["promoted_arm"], "b");
    assert_eq!(
        stopped["promotion"],
        json!({"arm": "b", "activated": [pause], "deactivated": [], "kept": [control]})
    );
    let (_, offer) = parts(app.get(&format!("/api/v1/offers/{pause}")).await).await;
    assert_eq!(offer["active"], true);
    // Stopped: intercept is back to the normal offers, without experiment.
    let (_, answer) = parts(app.intercept(json!({"target_id": "cancel-btn"})).await).await;
    let shown: Vec<i64> = answer["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(shown.len(), 2);
    assert!(shown.contains(&control) && shown.contains(&pause));
    assert!(answer["offers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["experiment"].is_null()));
    // Stopped is final.
    assert_invalid(
        app.patch_experiment(id, json!({"status": "running"})).await,
        "status",
        "The status cannot change from stopped to running.",
    )
    .await;
}

#[actix_web::test]
async fn an_applied_offer_is_credited_to_the_arm_once() {
    let stripe = FakeStripe::start().await;
    stripe.add_subscription("sub_1", "cus_1", "si_1", "price_pro", None);
    let mut settings = test_settings().await;
    settings.stripe.api_base = stripe.base_url();
    let app = TestApp::spawn_with(settings).await;
    app.set_stripe_key("sk_test_saveloops_4eC39HqLyjWDarjtT1zdp7dc")
        .await;
    let (control, pause, experiment) = two_arm_setup(&app, (50, 50)).await;
    let id = experiment["id"].as_i64().unwrap();
    let (arm, offers) = intercept_arm(
        &app,
        json!({"target_id": "cancel-btn", "user_email": "payer@example.com"}),
    )
    .await;
    let offer = offers[0];
    assert_eq!(offer, if arm == "control" { control } else { pause });
    let (status, body) = parts(
        app.apply_offer(json!({"offer_id": offer, "stripe_subscription_id": "sub_1",
                               "user_email": "payer@example.com", "mrr_value": 49}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The client also reports the save it saw: still one saved person.
    app.outcome(json!({"offer_id": offer, "status": "saved", "user_email": "payer@example.com", "mrr_value": 49}))
        .await;
    let application = entity::offer_application::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(application.experiment_id, Some(id));
    assert_eq!(application.experiment_arm.as_deref(), Some(arm.as_str()));
    let results = app.results(id).await;
    let credited = results["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == arm.as_str())
        .unwrap()
        .clone();
    assert_eq!(credited["saves"], 1, "{results}");
    assert_eq!(credited["saved_mrr"], 49);
    assert_eq!(credited["held_saves"], 0, "pending while the window runs");
    // No cancellation from Stripe in 30 days: the save held.
    app.actors.clock.advance(chrono::Duration::days(31));
    let results = app.results(id).await;
    let credited = results["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == arm.as_str())
        .unwrap()
        .clone();
    assert_eq!(credited["held_saves"], 1, "{results}");
}

#[actix_web::test]
async fn experiments_are_validated_and_only_drafts_change_their_arms() {
    let app = TestApp::spawn().await;
    let a = app.discount_offer().await;
    let b = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause", "active": false}))
        .await;
    let elsewhere = app
        .offer(json!({"type": "custom", "value": 0, "label": "x", "target_id": "other"}))
        .await;
    let valid = json!({"name": "Test", "target_id": "cancel-btn",
                       "arms": [{"name": "control", "offer_ids": [a]}, {"name": "b", "offer_ids": [b]}]});
    let with = |patch: Value| {
        let mut body = valid.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (json!({"target_id": "cancel-btn", "arms": valid["arms"]}), "name", "The name field is required."),
        (with(json!({"arms": [{"name": "only", "offer_ids": [a]}]})), "arms", "The arms field must have at least 2 items."),
        (with(json!({"arms": "ab"})), "arms", "The arms field must be an array."),
        (with(json!({"arms": [{"name": "x", "offer_ids": [a]}, {"name": "x", "offer_ids": [b]}]})), "arms.1.name", "The arms.1.name field has a duplicate value."),
        (with(json!({"arms": [{"offer_ids": [a]}, {"name": "b", "offer_ids": [b]}]})), "arms.0.name", "The arms.0.name field is required."),
        (with(json!({"arms": [{"name": "a", "offer_ids": [a], "weight": 0}, {"name": "b", "offer_ids": [b]}]})), "arms.0.weight", "The arms.0.weight field must be between 1 and 10000."),
        (with(json!({"arms": [{"name": "a", "offer_ids": []}, {"name": "b", "offer_ids": [b]}]})), "arms.0.offer_ids", "The arms.0.offer_ids field must have at least 1 item."),
        (with(json!({"arms": [{"name": "a", "offer_ids": [a, 9999]}, {"name": "b", "offer_ids": [b]}]})), "arms.0.offer_ids.1", "The selected arms.0.offer_ids.1 is invalid."),
        (with(json!({"arms": [{"name": "a", "offer_ids": [a]}, {"name": "b", "offer_ids": [a]}]})), "arms.1.offer_ids.0", "The arms.1.offer_ids.0 field has a duplicate value: an offer can be in one arm only."),
        (with(json!({"arms": [{"name": "a", "offer_ids": [a], "control": true}, {"name": "b", "offer_ids": [b], "control": true}]})), "arms", "Only one arm can be the control."),
        (with(json!({"arms": [{"name": "a", "offer_ids": [a]}, {"name": "b", "offer_ids": [elsewhere]}]})), "arms.1.offer_ids.0", "The arms.1.offer_ids.0 offer is limited to target other, so it can never show in this experiment."),
        (with(json!({"status": "paused"})), "status", "The selected status is invalid."),
        (with(json!({"status": "stopped"})), "status", "The status field must be draft or running when an experiment is created."),
        (with(json!({"trigger": "wink"})), "trigger", "The selected trigger is invalid."),
        (with(json!({"confidence": 1.5})), "confidence", "The confidence field must be between 0.5 and 0.999."),
        (with(json!({"min_sample_size": 0})), "min_sample_size", "The min sample size field must be between 1 and 10000000."),
    ];
    for (body, field, message) in cases {
        assert_invalid(app.create_experiment(body).await, field, message).await;
    }

    // A draft: the first arm is the control, weights default to 1, the org's defaults apply.
    let draft = app.experiment(valid.clone()).await;
    let id = draft["id"].as_i64().unwrap();
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["control_arm"], "control");
    assert_eq!(
        draft["arms"][1],
        json!({"name": "b", "offer_ids": [b], "weight": 1, "control": false})
    );
    assert_eq!(
        (
            draft["confidence"].as_f64(),
            draft["min_sample_size"].as_u64()
        ),
        (Some(0.95), Some(100))
    );
    // A draft shows nothing different.
    let (_, answer) = parts(app.intercept(json!({"target_id": "cancel-btn"})).await).await;
    assert_eq!(answer["offers"][0]["experiment"], Value::Null);
    // Drafts change freely; running experiments keep their arms.
    let (status, changed) = parts(
        app.patch_experiment(id, json!({"arms": [{"name": "control", "offer_ids": [a], "weight": 3}, {"name": "b", "offer_ids": [b]}]}))
            .await,
    )
    .await;
    assert_eq!((status, &changed["arms"][0]["weight"]), (200, &json!(3)));
    let (status, _) = parts(app.patch_experiment(id, json!({"status": "running"})).await).await;
    assert_eq!(status, 200);
    assert_invalid(
        app.patch_experiment(id, json!({"arms": valid["arms"]}))
            .await,
        "arms",
        "The arms field can only change while the experiment is a draft.",
    )
    .await;
    assert_invalid(
        app.patch_experiment(id, json!({"target_id": "elsewhere"}))
            .await,
        "target_id",
        "The target id field can only change while the experiment is a draft.",
    )
    .await;
    let (status, renamed) = parts(app.patch_experiment(id, json!({"name": "Renamed"})).await).await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Renamed")));
    // One running experiment per target (and trigger), and per offer.
    let (status, overlap) = parts(
        app.create_experiment(with(json!({"status": "running", "trigger": "click"})))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        overlap["errors"]["status"][0]
            .as_str()
            .unwrap()
            .contains("already running on target cancel-btn"),
        "{overlap}"
    );
    assert!(
        overlap["errors"]["arms"][0]
            .as_str()
            .unwrap()
            .contains(&format!("Offer {a} is already in running experiment {id}")),
        "{overlap}"
    );
    // An offer in a live experiment cannot be deleted.
    let (status, refused) = parts(app.delete_offer(b).await).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains(&format!("experiment {id}")));
    // Unknown ids are 404.
    let (status, _) = parts(app.get("/api/v1/experiments/9999").await).await;
    assert_eq!(status, 404);
    let (status, _) = parts(app.get("/api/v1/experiments/abc/results").await).await;
    assert_eq!(status, 404);
    let (_, list) = parts(app.get("/api/v1/experiments").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn experiments_are_isolated_per_organization() {
    let app = TestApp::spawn().await;
    let (control, _, experiment) = two_arm_setup(&app, (50, 50)).await;
    let id = experiment["id"].as_i64().unwrap();
    let (_, other_key) = app.second_organization().await;
    for path in [
        format!("/api/v1/experiments/{id}"),
        format!("/api/v1/experiments/{id}/results"),
    ] {
        let (status, _) = parts(app.get_as(&other_key, &path).await).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = parts(
        app.patch_as(
            &other_key,
            &format!("/api/v1/experiments/{id}"),
            &json!({"status": "stopped"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let (_, list) = parts(app.get_as(&other_key, "/api/v1/experiments").await).await;
    assert_eq!(list["data"], json!([]));
    // The other organization cannot put this one's offers in its arms.
    let own = parts(
        app.post_as(
            &other_key,
            "/api/v1/offers",
            &json!({"type": "custom", "value": 0, "label": "own"}),
        )
        .await,
    )
    .await
    .1["id"]
        .as_i64()
        .unwrap();
    assert_invalid(
        app.post_as(
            &other_key,
            "/api/v1/experiments",
            &json!({"name": "x", "target_id": "cancel-btn",
                    "arms": [{"name": "a", "offer_ids": [control]}, {"name": "b", "offer_ids": [own]}]}),
        )
        .await,
        "arms.0.offer_ids.0",
        "The selected arms.0.offer_ids.0 is invalid.",
    )
    .await;
    // Its cancel flow on the same target is untouched by this organization's experiment.
    let (_, answer) = parts(
        app.post_as(
            &other_key,
            "/api/v1/intercept",
            &json!({"target_id": "cancel-btn", "user_email": "u@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(answer["offers"].as_array().unwrap().len(), 1);
    assert_eq!(answer["offers"][0]["id"], own);
    assert_eq!(answer["offers"][0]["experiment"], Value::Null);
}

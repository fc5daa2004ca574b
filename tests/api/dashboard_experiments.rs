//! The owners' Experiments pages: in real Chromium, an owner creates an experiment (refused
//! first, with the API's message beside the arm), starts it, reads results made of real
//! intercepts and outcomes (the same figures, verdict and reason as the API), and stops it
//! promoting an arm; axe-core finds nothing. Over HTTP: the API's refusals (a second running
//! experiment on the target, no winner to promote) change nothing, and odd paths are 404.
use serde_json::{json, Value};

use crate::browser::chromedriver;
use crate::dashboard::{click, fill, scan, until_text};
use crate::dashboard_offers::{choose, owner_in_browser};
use crate::dashboard_support::{csrf_of, form, WebClient};
use crate::helpers::{parts, TestApp};

/// The control: the live 20 % discount. The challenger: a pause made for the test, inactive.
async fn two_offers(app: &TestApp) -> (i64, i64) {
    let discount = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "cancel-btn"}),
        )
        .await;
    let pause = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause a month", "active": false}))
        .await;
    (discount, pause)
}

async fn experiment_of(app: &TestApp, id: i64) -> Value {
    let (status, body) = parts(app.get(&format!("/api/v1/experiments/{id}")).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[actix_web::test]
async fn an_owner_creates_starts_reads_and_stops_an_experiment_in_the_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (discount, pause) = two_offers(&app).await;
    let b = owner_in_browser(&app, &driver).await;

    click(&b, "nav a[href='/app/experiments']").await;
    b.until_path("/app/experiments").await;
    scan(&b, "the experiments, none yet").await;
    click(&b, "a[href='/app/experiments/new']").await;
    b.until_path("/app/experiments/new").await;
    scan(&b, "the new experiment form").await;

    // The second arm without an offer: the API's message beside it, the form as typed.
    fill(&b, "#name", "Discount or pause").await;
    fill(&b, "#target-id", "cancel-btn").await;
    fill(&b, "#min-sample-size", "5").await;
    fill(&b, "#arms-0-name", "control").await;
    click(&b, &format!("#arms-0-offer-{discount}")).await;
    fill(&b, "#arms-1-name", "pause").await;
    click(
        &b,
        "form[action='/app/experiments/new'] button[type=submit]",
    )
    .await;
    until_text(
        &b,
        "#arms-1-offer-ids-error",
        "The arms.1.offer_ids field must have at least 1 item.",
    )
    .await;
    let kept = b
        .run(&format!("return [document.querySelector('#name').value, document.querySelector('#arms-1-name').value, document.querySelector('#arms-0-offer-{discount}').checked]"))
        .await;
    assert_eq!(kept, json!(["Discount or pause", "pause", true]));
    let (_, listed) = parts(app.get("/api/v1/experiments").await).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
    scan(&b, "the refused form").await;

    click(&b, &format!("#arms-1-offer-{pause}")).await;
    click(
        &b,
        "form[action='/app/experiments/new'] button[type=submit]",
    )
    .await;
    until_text(&b, "#experiment-status", "draft").await;
    let (_, listed) = parts(app.get("/api/v1/experiments").await).await;
    let experiment = listed["data"][0].clone();
    let id = experiment["id"].as_i64().unwrap();
    assert_eq!(b.path().await, format!("/app/experiments/{id}"));
    assert_eq!(experiment["name"], "Discount or pause");
    assert_eq!(experiment["target_id"], "cancel-btn");
    assert_eq!(experiment["trigger"], Value::Null);
    assert_eq!(experiment["min_sample_size"], json!(5));
    assert_eq!(experiment["control_arm"], "control");
    assert_eq!(
        experiment["arms"],
        json!([
            {"name": "control", "offer_ids": [discount], "weight": 1, "control": true},
            {"name": "pause", "offer_ids": [pause], "weight": 1, "control": false}
        ])
    );
    scan(&b, "a draft").await;

    click(&b, "form[aria-label='Start'] button").await;
    until_text(&b, "#experiment-status", "running").await;
    assert_eq!(experiment_of(&app, id).await["status"], "running");

    // Real traffic: 24 known end users; every one in the pause arm saves, the control's
    // first three do. Counted here as the API should count them: [control, pause].
    let (mut exposures, mut saves) = ([0u64; 2], [0u64; 2]);
    for n in 0..24 {
        let email = format!("u{n}@example.com");
        let (status, answer) = parts(
            app.intercept(json!({"target_id": "cancel-btn", "user_email": email}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let shown = &answer["offers"][0];
        let offer = shown["id"].as_i64().unwrap();
        let arm = usize::from(shown["experiment"]["arm"] == "pause");
        exposures[arm] += 1;
        if arm == 1 || saves[0] < 3 {
            saves[arm] += 1;
            let (status, body) = parts(
                app.outcome(json!({"offer_id": offer, "status": "saved", "user_email": email, "mrr_value": 10}))
                    .await,
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    // Wait (with a deadline) until the API counts them all.
    let started = std::time::Instant::now();
    let results = loop {
        let results = app.results(id).await;
        let counted = |field: &str| -> Vec<u64> {
            results["arms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a[field].as_u64().unwrap())
                .collect()
        };
        if counted("exposures") == exposures && counted("saves") == saves {
            break results;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never counted {exposures:?} exposures and {saves:?} saves: {results}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    b.client.refresh().await.unwrap();
    b.until_loaded().await;
    for (index, arm) in results["arms"].as_array().unwrap().iter().enumerate() {
        for field in ["impressions", "exposures", "saves", "held_saves"] {
            let css = format!(
                "#arm-{index} td.{}",
                if field == "held_saves" { "held" } else { field }
            );
            until_text(&b, &css, &arm[field].to_string()).await;
        }
    }
    until_text(&b, "#verdict", results["verdict"].as_str().unwrap()).await;
    until_text(
        &b,
        "#verdict-reason",
        results["verdict_reason"].as_str().unwrap(),
    )
    .await;
    let rate = b
        .run("return document.querySelector('#arm-1 td.rate').textContent")
        .await;
    let low = results["arms"][1]["save_rate_interval"]["low"]
        .as_f64()
        .unwrap();
    assert!(
        rate.as_str()
            .unwrap()
            .contains(&format!("{:.1} % to", low * 100.0)),
        "the interval is shown: {rate} {results}"
    );
    scan(&b, "a running experiment with results").await;

    // Stop, promoting the pause arm: its offer becomes active.
    choose(&b, "#stop-promote", "arm:pause").await;
    click(&b, "form[aria-label='Stop'] button").await;
    until_text(&b, "#experiment-status", "stopped").await;
    until_text(&b, "#promoted-arm", "pause").await;
    let notice = b
        .run("return document.querySelector('#promotion').textContent")
        .await;
    assert!(
        notice
            .as_str()
            .unwrap()
            .contains(&format!("Activated offers: {pause}")),
        "{notice}"
    );
    let stored = experiment_of(&app, id).await;
    assert_eq!(stored["status"], "stopped");
    assert_eq!(stored["promoted_arm"], "pause");
    let (_, offer) = parts(app.get(&format!("/api/v1/offers/{pause}")).await).await;
    assert_eq!(offer["active"], true, "promoted");
    scan(&b, "a stopped experiment").await;
    click(&b, "nav a[href='/app/experiments']").await;
    b.until_path("/app/experiments").await;
    until_text(&b, &format!("#experiment-{id} td.status"), "stopped").await;
    scan(&b, "the experiments").await;
    b.close().await;
}

#[actix_web::test]
async fn experiment_pages_answer_the_apis_refusals_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (discount, pause) = two_offers(&app).await;
    let third = app
        .offer(json!({"type": "custom", "value": 0, "label": "Talk to us"}))
        .await;
    let mut web = WebClient::member(&app, "owner@example.com", "owner").await;
    let (status, _, html) = web.get("/app/experiments/new").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let discount_box = format!("arms.0.offer.{discount}");
    let pause_box = format!("arms.1.offer.{pause}");
    let third_box = format!("arms.1.offer.{third}");

    // Started at once from the form.
    let (status, location, body) = web
        .post(
            "/app/experiments/new",
            form(&[
                ("csrf", &csrf),
                ("name", "First"),
                ("target_id", "cancel-btn"),
                ("arms.0.name", "a"),
                (&discount_box, "on"),
                ("arms.1.name", "b"),
                ("arms.1.weight", "3"),
                (&pause_box, "on"),
                ("control", "1"),
                ("status", "running"),
            ]),
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let (_, listed) = parts(app.get("/api/v1/experiments").await).await;
    let first = listed["data"][0].clone();
    let first_id = first["id"].as_i64().unwrap();
    assert_eq!(location, Some(format!("/app/experiments/{first_id}")));
    assert_eq!(first["status"], "running");
    assert_eq!(first["control_arm"], "b");
    assert_eq!(first["arms"][1]["weight"], json!(3));

    // A second one on the same target cannot start: the API's message, nothing created.
    let second = [
        ("csrf", csrf.as_str()),
        ("name", "Second"),
        ("target_id", "cancel-btn"),
        ("arms.0.name", "a"),
        ("arms.1.name", "b"),
        (&third_box, "on"),
        ("status", "running"),
    ];
    let mut with_offer = second.to_vec();
    let other_discount = format!("arms.0.offer.{discount}");
    with_offer.push((&other_discount, "on"));
    let (status, _, page) = web.post("/app/experiments/new", form(&with_offer)).await;
    assert_eq!(status, 422);
    let (api_status, api) = parts(
        app.create_experiment(
            json!({"name": "Second", "target_id": "cancel-btn", "status": "running",
            "arms": [{"name": "a", "offer_ids": [discount]}, {"name": "b", "offer_ids": [third]}]}),
        )
        .await,
    )
    .await;
    assert_eq!(api_status, 422);
    for messages in api["errors"].as_object().unwrap().values() {
        for message in messages.as_array().unwrap() {
            let message = message.as_str().unwrap();
            assert!(page.contains(message), "the page says {message:?}");
        }
    }
    assert!(page.contains("is already running on target cancel-btn; stop it first."));
    // Arm rows past the last filled one are ignored; a gap is an arm without a name.
    let (status, _, page) = web
        .post(
            "/app/experiments/new",
            form(&[
                ("csrf", &csrf),
                ("name", "Gappy"),
                ("target_id", "other"),
                ("arms.0.name", "a"),
                (&discount_box, "on"),
                ("arms.2.name", "c"),
                ("arms.2.offer.abc", "on"),
                ("confidence", "2"),
            ]),
        )
        .await;
    assert_eq!(status, 422);
    for message in [
        "The arms.1.name field is required.",
        "The arms.1.offer_ids field must have at least 1 item.",
        "The arms.2.offer_ids.0 field must be an integer.",
        "The confidence field must be between 0.5 and 0.999.",
    ] {
        assert!(page.contains(message), "{message}");
    }
    let (_, listed) = parts(app.get("/api/v1/experiments").await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // No winner yet: stopping with the winner's promotion is refused, and it keeps running.
    let path = format!("/app/experiments/{first_id}");
    let (status, _, page) = web
        .post(
            &path,
            form(&[("csrf", &csrf), ("action", "stop"), ("promote", "winner")]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("There is no winner to promote (no difference yet)"),
        "{page}"
    );
    assert_eq!(experiment_of(&app, first_id).await["status"], "running");
    let (status, _, page) = web
        .post(&path, form(&[("csrf", &csrf), ("action", "start")]))
        .await;
    assert_eq!(status, 303, "running again is no change: {page}");
    let (status, _, _) = web
        .post(&path, form(&[("csrf", &csrf), ("action", "promote")]))
        .await;
    assert_eq!(status, 422);
    let (status, _, _) = web
        .post(&path, form(&[("csrf", &csrf), ("action", "stop")]))
        .await;
    assert_eq!(status, 303);
    let (status, _, page) = web
        .post(&path, form(&[("csrf", &csrf), ("action", "start")]))
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("The status cannot change from stopped to running."));
    let (status, _, page) = web
        .post(
            &path,
            form(&[
                ("csrf", &csrf),
                ("action", "promote"),
                ("promote", "arm:nope"),
            ]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("The selected promote arm is invalid."));
    let (status, _, page) = web
        .post(
            &path,
            form(&[("csrf", &csrf), ("action", "promote"), ("promote", "arm:a")]),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Promoted arm a."));
    assert_eq!(experiment_of(&app, first_id).await["promoted_arm"], "a");

    // Without the token: refused, nothing created.
    let (status, _, _) = web
        .post(
            "/app/experiments/new",
            form(&[("name", "Forged"), ("target_id", "x")]),
        )
        .await;
    assert_eq!(status, 403);
    let (_, listed) = parts(app.get("/api/v1/experiments").await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    for odd in [
        "/app/experiments/abc",
        "/app/experiments/0",
        "/app/experiments/424242",
        "/app/experiments/99999999999999999999",
    ] {
        let (status, _, _) = web.get(odd).await;
        assert_eq!(status, 404, "{odd}");
        let (status, _, _) = web
            .post(odd, form(&[("csrf", &csrf), ("action", "start")]))
            .await;
        assert_eq!(status, 404, "{odd}");
    }
    let (status, _, html) = web.get("/app/experiments/new?arms=50").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"arms-9-name\"") && !html.contains("id=\"arms-10-name\""));
}

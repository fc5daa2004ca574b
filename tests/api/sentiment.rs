//! Cancellation reasons: suggested action, matching offers, tickets and their delivery.
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid, parts, TestApp};

async fn analyze(app: &TestApp, body: Value) -> Value {
    let (status, answer) = parts(app.post("/api/v1/intercept/sentiment", &body).await).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn offer_ids(answer: &Value) -> Vec<i64> {
    answer["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn the_answer_has_the_contract_shape_and_suggests_offers_that_fit_the_action() {
    let app = TestApp::spawn().await;
    let discount = app
        .offer(json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "cancel-form"}))
        .await;
    let downgrade = app
        .offer(json!({"type": "downgrade", "value": 0, "label": "Basic", "config": {"price_id": "price_basic"}}))
        .await;
    let pause = app
        .offer(json!({"type": "pause", "value": 2, "label": "Pause"}))
        .await;
    let contact = app
        .offer(json!({"type": "contact", "value": 0, "label": "Call us",
                      "config": {"url": "https://cal.example.com/acme"}}))
        .await;
    let trial = app
        .offer(json!({"type": "trial_extension", "value": 14, "label": "More time"}))
        .await;
    app.offer(json!({"type": "custom", "value": 0, "label": "never suggested"}))
        .await;

    let answer = analyze(
        &app,
        json!({"reason": "Too expensive for now", "user_email": "user@example.com", "target_id": "cancel-form"}),
    )
    .await;
    assert_eq!(answer["suggested_action"], "discount");
    let confidence = answer["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence));
    assert_eq!(offer_ids(&answer), vec![discount, downgrade]);
    assert_eq!(answer["create_support_ticket"], false);
    assert_eq!(
        answer["offers"][0],
        json!({"id": discount, "type": "discount", "value": 20,
        "label": "20% off", "config": {"duration": "once"}, "experiment": null})
    );
    assert!(answer["category"].is_string());
    let sentiment = answer["sentiment"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&sentiment));

    // An offer bound to another target is left out when the target is given.
    let elsewhere = analyze(
        &app,
        json!({"reason": "way too pricey for what it does", "target_id": "settings"}),
    )
    .await;
    assert_eq!(offer_ids(&elsewhere), vec![downgrade]);

    let paused = analyze(
        &app,
        json!({"reason": "Our business is seasonal, we'll be back in the spring"}),
    )
    .await;
    assert_eq!(paused["suggested_action"], "pause");
    assert_eq!(offer_ids(&paused), vec![pause]);

    let setup = analyze(
        &app,
        json!({"reason": "We never managed to set it up, the onboarding was confusing"}),
    )
    .await;
    assert_eq!(setup["suggested_action"], "setup_call");
    assert_eq!(offer_ids(&setup), vec![contact, trial]);

    let closed = analyze(
        &app,
        json!({"reason": "We are closing the company down at the end of the month"}),
    )
    .await;
    assert_eq!(closed["suggested_action"], "none");
    assert_eq!(closed["offers"], json!([]));
    assert_eq!(closed["create_support_ticket"], false);

    let reasons = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::cancellation_reason::Entity::find()
            .count(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(reasons, 5, "every analysed reason is recorded");
}

#[actix_web::test]
async fn negation_and_unseen_reasons_are_read_for_what_they_say() {
    let app = TestApp::spawn().await;
    // Reasons written for this test, not in the corpus.
    let cases = [
        ("not too expensive, we just never use it", "setup_call"),
        (
            "The price is fine but the app keeps crashing when I export",
            "support",
        ),
        (
            "Honestly the cost went up and our budget got cut this quarter",
            "discount",
        ),
        (
            "Going on parental leave for six months, will resubscribe after",
            "pause",
        ),
        (
            "Our agency got bought by a bigger group and they standardise on another tool",
            "none",
        ),
        (
            "I still don't understand how to connect my calendar, it's all so confusing",
            "setup_call",
        ),
        (
            "Your sync wiped half of our customer records. Unacceptable.",
            "support",
        ),
        (
            "Cheaper competitor does the same for half the money",
            "discount",
        ),
        (
            "Project paused until the client signs the new contract",
            "pause",
        ),
        (
            "Legal says we can't keep data outside the EU, so we have to stop",
            "none",
        ),
    ];
    let mut right = 0;
    for (reason, expected) in cases {
        let answer = analyze(&app, json!({"reason": reason})).await;
        if answer["suggested_action"] == expected {
            right += 1;
        } else {
            eprintln!(
                "{reason:?}: expected {expected}, got {}",
                answer["suggested_action"]
            );
        }
    }
    assert!(right >= 8, "{right}/10 unseen reasons read right");
    let negated = analyze(
        &app,
        json!({"reason": "not too expensive, we just never use it"}),
    )
    .await;
    assert_ne!(negated["suggested_action"], "discount");
}

#[actix_web::test]
async fn sentiment_validation_follows_the_contract() {
    let app = TestApp::spawn().await;
    let path = "/api/v1/intercept/sentiment";
    let cases = [
        (json!({}), "reason", "The reason field is required."),
        (
            json!({"reason": "   "}),
            "reason",
            "The reason field is required.",
        ),
        (
            json!({"reason": 42}),
            "reason",
            "The reason field must be a string.",
        ),
        (
            json!({"reason": "x".repeat(2001)}),
            "reason",
            "The reason field must not be greater than 2000 characters.",
        ),
        (
            json!({"reason": "ok", "user_email": "nope"}),
            "user_email",
            "The user email field must be a valid email address.",
        ),
        (
            json!({"reason": "ok", "target_id": "t".repeat(256)}),
            "target_id",
            "The target id field must not be greater than 255 characters.",
        ),
    ];
    for (body, field, message) in cases {
        assert_invalid(app.post(path, &body).await, field, message).await;
    }
    let (status, _) = parts(app.post(path, &json!({"reason": "y".repeat(2000)})).await).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn only_support_reasons_open_tickets_which_staff_list_and_update() {
    let app = TestApp::spawn().await;
    let calm = analyze(
        &app,
        json!({"reason": "It's too expensive for our small team"}),
    )
    .await;
    assert_eq!(calm["create_support_ticket"], false);
    assert_eq!(calm["ticket_id"], Value::Null);
    let angry = analyze(
        &app,
        json!({"reason": "Your app has been DOWN all week and support never answered!!! Worst service ever",
               "user_email": "furious@example.com", "target_id": "cancel-form"}),
    )
    .await;
    assert_eq!(angry["suggested_action"], "support");
    assert_eq!(angry["create_support_ticket"], true);
    let id = angry["ticket_id"].as_i64().unwrap();
    let bug = analyze(
        &app,
        json!({"reason": "The export keeps failing with an error every time"}),
    )
    .await;
    assert_eq!(bug["create_support_ticket"], true);

    let (_, list) = parts(app.get("/api/v1/tickets").await).await;
    let tickets = list["data"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    assert!(
        tickets[0]["id"].as_i64() > tickets[1]["id"].as_i64(),
        "newest first"
    );
    let (_, ticket) = parts(app.get(&format!("/api/v1/tickets/{id}")).await).await;
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["user_email"], "furious@example.com");
    assert_eq!(ticket["target_id"], "cancel-form");
    assert!(
        ["urgent", "high"].contains(&ticket["priority"].as_str().unwrap()),
        "{ticket}"
    );
    assert!(ticket["sentiment"].as_f64().unwrap() < -0.3);
    assert_eq!(
        ticket["delivery"]["status"], "none",
        "no webhook configured"
    );

    let patch = app
        .client
        .patch(format!("{}/api/v1/tickets/{id}", app.address))
        .header("X-Knot-Key", &app.key)
        .json(&json!({"status": "pending", "assignee": "sam@acme.test", "note": "Called back"}))
        .send()
        .await
        .unwrap();
    let (status, updated) = parts(patch).await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["status"].as_str(), updated["assignee"].as_str()),
        (Some("pending"), Some("sam@acme.test"))
    );
    let (_, pending) = parts(app.get("/api/v1/tickets?status=pending").await).await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 1);
    let (_, page) = parts(app.get("/api/v1/tickets?per_page=1&page=2").await).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["meta"]["total"], 2);
    assert_eq!(page["meta"]["last_page"], 2);

    let bad = app
        .client
        .patch(format!("{}/api/v1/tickets/{id}", app.address))
        .header("X-Knot-Key", &app.key)
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_invalid(bad, "status", "The selected status is invalid.").await;
    assert_invalid(
        app.get("/api/v1/tickets?status=lost").await,
        "status",
        "The selected status is invalid.",
    )
    .await;
    assert_invalid(
        app.get("/api/v1/tickets?per_page=500").await,
        "per_page",
        "The per page field must be between 1 and 100.",
    )
    .await;

    // Another organization sees none of them.
    let (_, other_key) = app.second_organization().await;
    let (_, theirs) = parts(app.get_as(&other_key, "/api/v1/tickets").await).await;
    assert_eq!(theirs["data"], json!([]));
    let (status, _) = parts(
        app.get_as(&other_key, &format!("/api/v1/tickets/{id}"))
            .await,
    )
    .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn concurrent_reasons_each_answer_with_their_own_ticket() {
    // Reasons that arrive together share one group commit, whose tickets are written in one
    // statement: each answer must still name the ticket opened for its own reason.
    let app = TestApp::spawn().await;
    const N: usize = 24;
    let answers = futures_util::future::join_all((0..N).map(|i| {
        let body = if i % 4 == 3 {
            json!({"reason": "It's too expensive for our small team",
                   "user_email": format!("calm{i}@example.com")})
        } else {
            json!({"reason": "Your app lost our data and support never answered, this is unacceptable",
                   "user_email": format!("angry{i}@example.com"), "target_id": format!("form-{i}")})
        };
        let app = &app;
        async move { (i, analyze(app, body).await) }
    }))
    .await;
    let mut ids = Vec::new();
    for (i, answer) in answers {
        if i % 4 == 3 {
            assert_eq!(answer["ticket_id"], Value::Null, "{answer}");
            continue;
        }
        let id = answer["ticket_id"].as_i64().expect("a ticket");
        let (_, ticket) = parts(app.get(&format!("/api/v1/tickets/{id}")).await).await;
        assert_eq!(
            ticket["user_email"],
            format!("angry{i}@example.com"),
            "{ticket}"
        );
        assert_eq!(ticket["target_id"], format!("form-{i}"), "{ticket}");
        ids.push(id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N - N / 4, "one ticket per support reason");
    // Each stored reason names the ticket its own reason opened, and only support reasons
    // name one.
    use sea_orm::EntityTrait;
    let reasons = entity::cancellation_reason::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(reasons.len(), N);
    for reason in reasons {
        let Some(ticket) = reason.ticket_id else {
            assert!(reason.target_id.is_none(), "{reason:?}");
            continue;
        };
        let ticket = entity::support_ticket::Entity::find_by_id(ticket)
            .one(&app.db)
            .await
            .unwrap()
            .expect("the ticket the reason names");
        assert_eq!(ticket.target_id, reason.target_id, "{reason:?}");
        assert_eq!(ticket.end_user_id, reason.end_user_id, "{reason:?}");
    }
}

#[derive(Default)]
struct Receiver {
    failures_left: usize,
    received: Vec<(Option<String>, String)>,
}

/// A webhook receiver on port 0 that fails the first `failures` deliveries with 503.
async fn start_receiver(failures: usize) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        failures_left: failures,
        ..Default::default()
    }));
    let shared = state.clone();
    let server = HttpServer::new(move || {
        let state = shared.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let state = state.clone();
            async move {
                let mut state = state.lock().unwrap();
                let signature = req
                    .headers()
                    .get("Saveloops-Signature")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                state
                    .received
                    .push((signature, String::from_utf8_lossy(&body).into_owned()));
                if state.failures_left > 0 {
                    state.failures_left -= 1;
                    HttpResponse::ServiceUnavailable().finish()
                } else {
                    HttpResponse::Ok().finish()
                }
            }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}/hooks/tickets"), state)
}

/// What a receiver does: recompute HMAC-SHA256 over "{t}.{body}" with the shared secret.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    use hmac::{Hmac, Mac};
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let fresh = (chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap_or(0)).abs() <= 300;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    fresh
        && mac
            .verify_slice(&hex::decode(v1).unwrap_or_default())
            .is_ok()
}

#[actix_web::test]
async fn tickets_reach_a_webhook_that_fails_twice_signed_and_exactly_delivered() {
    let app = TestApp::spawn().await;
    let (url, receiver) = start_receiver(2).await;
    let secrets = saveloops::store::secrets::SecretBox::load(&app.settings.security).unwrap();
    let secret = saveloops::store::tenants::set_ticket_webhook(
        &app.db,
        &secrets,
        app.organization_id,
        &url,
        "json",
    )
    .await
    .unwrap();
    let answer = analyze(
        &app,
        json!({"reason": "You lost all of our data in the last update, this is a disaster",
               "user_email": "cto@example.com"}),
    )
    .await;
    assert_eq!(answer["create_support_ticket"], true);
    let id = answer["ticket_id"].as_i64().unwrap();

    let workers = app.workers();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, ticket) = parts(app.get(&format!("/api/v1/tickets/{id}")).await).await;
        if ticket["delivery"]["status"] == "delivered" {
            assert_eq!(ticket["delivery"]["attempts"], 3);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never delivered: {ticket}"
        );
        if workers.pool.run_once().await.unwrap() == 0 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let received = receiver.lock().unwrap().received.clone();
    assert_eq!(
        received.len(),
        3,
        "two failures, then the accepted delivery"
    );
    for (signature, body) in &received {
        assert!(
            verify(&secret, signature.as_deref().unwrap(), body),
            "signature verifies"
        );
        assert!(!verify("whsec_wrong", signature.as_deref().unwrap(), body));
        let payload: Value = serde_json::from_str(body).unwrap();
        assert_eq!(payload["type"], "ticket.created");
        assert_eq!(payload["ticket"]["id"], id);
        assert_eq!(payload["ticket"]["user_email"], "cto@example.com");
    }
    // Nothing more to send.
    assert_eq!(workers.pool.run_once().await.unwrap(), 0);
}

#[actix_web::test]
async fn slack_format_sends_a_text_message() {
    let app = TestApp::spawn().await;
    let (url, receiver) = start_receiver(0).await;
    let secrets = saveloops::store::secrets::SecretBox::load(&app.settings.security).unwrap();
    saveloops::store::tenants::set_ticket_webhook(
        &app.db,
        &secrets,
        app.organization_id,
        &url,
        "slack",
    )
    .await
    .unwrap();
    let answer = analyze(
        &app,
        json!({"reason": "Everything is broken and nobody from support replies"}),
    )
    .await;
    assert_eq!(answer["create_support_ticket"], true);
    let workers = app.workers();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while receiver.lock().unwrap().received.is_empty() {
        assert!(std::time::Instant::now() < deadline);
        if workers.pool.run_once().await.unwrap() == 0 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let body: Value = serde_json::from_str(&receiver.lock().unwrap().received[0].1).unwrap();
    assert!(
        body["text"].as_str().unwrap().contains("Support ticket #"),
        "{body}"
    );
}

#[actix_web::test]
async fn reasons_in_german_french_and_spanish_are_read_and_their_language_is_told() {
    let app = TestApp::spawn().await;
    // Reasons written for this test, not in the corpora.
    let cases = [
        (
            "Zu teuer für unser kleines Team, wir kündigen",
            "de",
            "discount",
        ),
        ("Wir pausieren bis nach der Sommersaison", "de", "pause"),
        (
            "Die Einrichtung war zu kompliziert, wir haben es nie richtig genutzt",
            "de",
            "setup_call",
        ),
        (
            "Unsere Firma wurde verkauft und der neue Eigentümer nutzt ein anderes Tool",
            "de",
            "none",
        ),
        ("Trop cher pour nous en ce moment", "fr", "discount"),
        (
            "On fait une pause pendant l'hiver, on reviendra au printemps",
            "fr",
            "pause",
        ),
        (
            "Personne dans l'équipe n'a compris comment l'utiliser",
            "fr",
            "setup_call",
        ),
        ("Nous fermons la boutique définitivement", "fr", "none"),
        (
            "Es demasiado caro para nosotros, cancelamos",
            "es",
            "discount",
        ),
        (
            "Cerramos por temporada baja, volvemos en primavera",
            "es",
            "pause",
        ),
        (
            "No conseguimos configurarlo, es muy complicado",
            "es",
            "setup_call",
        ),
        (
            "La aplicación se cae cada día y el soporte no contesta",
            "es",
            "support",
        ),
    ];
    let mut right = 0;
    for (reason, language, expected) in cases {
        let answer = analyze(&app, json!({"reason": reason})).await;
        assert_eq!(answer["language"], language, "{reason}: {answer}");
        if answer["suggested_action"] == expected {
            right += 1;
        } else {
            eprintln!("{reason:?}: expected {expected}, got {answer}");
        }
    }
    assert!(right >= 10, "{right}/12 reasons read right");

    // The two examples.
    let german = analyze(
        &app,
        json!({"reason": "Zu teuer für unser kleines Team, wir kündigen"}),
    )
    .await;
    assert_eq!(german["suggested_action"], "discount", "{german}");
    let french = analyze(&app, json!({"reason": "Trop cher pour nous en ce moment"})).await;
    assert_eq!(french["suggested_action"], "discount", "{french}");
    assert_eq!(french["create_support_ticket"], false, "{french}");
    assert_eq!(french["ticket_id"], Value::Null);

    // The language is stored with the reason.
    use sea_orm::{EntityTrait, QueryOrder};
    let stored = entity::cancellation_reason::Entity::find()
        .order_by_asc(entity::cancellation_reason::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), cases.len() + 2);
    for (reason, (_, language, _)) in stored.iter().zip(cases) {
        assert_eq!(reason.language.as_deref(), Some(language), "{reason:?}");
    }
}

#[actix_web::test]
async fn anger_data_loss_and_outages_are_urgent_in_every_language() {
    let app = TestApp::spawn().await;
    for reason in [
        "Ihr habt alle unsere Kundendaten gelöscht, das ist eine absolute Frechheit!!",
        "Der Server ist seit zwei Tagen komplett down, unsere Kunden können nichts buchen",
        "Vous avez perdu toutes nos données, c'est inadmissible !",
        "La plateforme est en panne depuis ce matin, on ne peut plus travailler",
        "Habéis borrado todos nuestros datos, es una vergüenza!!",
        "El servicio lleva caído todo el día, no podemos trabajar",
    ] {
        let answer = analyze(&app, json!({"reason": reason})).await;
        assert_eq!(answer["suggested_action"], "support", "{reason}: {answer}");
        let category = answer["category"].as_str().unwrap();
        assert!(
            ["data_loss", "outage", "anger"].contains(&category),
            "{reason}: {answer}"
        );
        let id = answer["ticket_id"]
            .as_i64()
            .expect("a confident support reading");
        let (_, ticket) = parts(app.get(&format!("/api/v1/tickets/{id}")).await).await;
        assert!(
            ["urgent", "high"].contains(&ticket["priority"].as_str().unwrap()),
            "{reason}: {ticket}"
        );
    }
    for reason in [
        "Das ist der letzte Scheiß, ihr seid komplett inkompetent!!!",
        "Logiciel pourri, support nul, je suis furieux !!!",
        "Sois unos incompetentes, la peor basura que he pagado!!!",
    ] {
        let answer = analyze(&app, json!({"reason": reason})).await;
        assert!(
            answer["sentiment"].as_f64().unwrap() <= -0.6,
            "{reason}: {answer}"
        );
    }
}

#[actix_web::test]
async fn a_support_reading_opens_a_ticket_only_when_it_is_sure_enough() {
    // With the default bar (0.6) every answer agrees with the rule.
    let app = TestApp::spawn().await;
    assert_eq!(app.settings.sentiment.ticket_min_confidence, 0.6);
    for reason in [
        "The export keeps failing with an error every time",
        "Trop cher pour nous en ce moment",
        "hmm",
        "no sé",
        "Das Tool ist okay, aber irgendwie passt es nicht",
        "Vous avez perdu toutes nos données",
    ] {
        let answer = analyze(&app, json!({"reason": reason})).await;
        let confident = answer["confidence"].as_f64().unwrap() >= 0.6;
        let support = answer["suggested_action"] == "support";
        assert_eq!(
            answer["create_support_ticket"],
            support && confident,
            "{reason}: {answer}"
        );
        assert_eq!(
            answer["ticket_id"].is_i64(),
            support && confident,
            "{answer}"
        );
    }

    // At a bar no reading reaches, a clear support reason is still read as one, opens no
    // ticket, and analytics counts it as low confidence.
    let mut settings = crate::helpers::test_settings().await;
    settings.sentiment.ticket_min_confidence = 1.0;
    let strict = TestApp::spawn_with(settings).await;
    let answer = analyze(
        &strict,
        json!({"reason": "You lost all of our data in the last update, this is a disaster"}),
    )
    .await;
    assert_eq!(answer["suggested_action"], "support", "{answer}");
    assert_eq!(answer["create_support_ticket"], false, "{answer}");
    assert_eq!(answer["ticket_id"], Value::Null);
    let (_, tickets) = parts(strict.get("/api/v1/tickets").await).await;
    assert_eq!(tickets["data"], json!([]));
    let (status, summary) = parts(strict.get("/api/v1/analytics/summary").await).await;
    assert_eq!(status, 200, "{summary}");
    let reasons = &summary["cancellation_reasons"];
    assert_eq!(reasons["total"], 1, "{reasons}");
    assert_eq!(reasons["low_confidence"], 1, "{reasons}");
    assert_eq!(reasons["by_language"], json!([{"value": "en", "count": 1}]));
}

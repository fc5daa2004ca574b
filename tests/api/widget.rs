//! The cancel-flow widget: served by the service, and driven in real headless Chromium on a
//! host page of another origin, with session tokens, the fake Stripe behind the service, and a
//! strict Content-Security-Policy.
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

use crate::browser::{chromedriver, Browser, HostPage, ENTER, ESCAPE, SPACE, TAB};
use crate::fake_stripe::{FakeStripe, Fault};
use crate::helpers::{parts, TestApp};

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

// ------------------------------------------------------------------ served over HTTP

#[actix_web::test]
async fn the_widget_is_served_cacheable_with_an_etag_and_gzipped_within_budget() {
    let app = TestApp::spawn().await;
    let url = format!("{}/embed/v1/saveloops.js", app.address);
    let plain = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = plain.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(
        headers["access-control-allow-origin"], "*",
        "SRI from another origin needs CORS"
    );
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let body = response.text().await.unwrap();
    assert_eq!(body, saveloops::http::embed::SCRIPT);
    assert!(body.contains("Saveloops") && !body.contains("eval("));

    // Gzipped when asked, within 15 kB, and the same script once unzipped.
    let zipped = plain
        .get(&url)
        .header("Accept-Encoding", "br, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await.unwrap();
    assert!(bytes.len() <= 15_000, "{} bytes gzipped", bytes.len());
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, body);
    // gzip;q=0 is a refusal.
    let refused = plain
        .get(&url)
        .header("Accept-Encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());

    // Revalidation: 304 with no body for the current ETag, 200 for another.
    let again = plain
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    let stale = plain
        .get(&url)
        .header("If-None-Match", "\"something-older\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    let head = plain.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"], etag.as_str());
}

#[test]
fn the_readme_states_the_widgets_integrity_hash() {
    let readme = include_str!("../../README.md");
    let integrity = saveloops::http::embed::integrity();
    assert!(
        readme.contains(&integrity),
        "the README must state the served widget's SRI hash: {integrity} (saveloops embed-sri)"
    );
}

// ------------------------------------------------------------------ the scene

/// The service with Stripe behind it, offers, a signing secret, and a host page on an
/// allowed origin that mounts the widget with a session token for `ann@example.com`
/// (customer `cus_1`, subscription `sub_1`).
struct Scene {
    app: TestApp,
    stripe: FakeStripe,
    host: HostPage,
    browser: Browser,
    discount: i64,
    pause: i64,
}

impl Scene {
    /// None when Chromium is not installed (outside CI).
    async fn start(triggers: &[&str]) -> Option<Scene> {
        let driver = chromedriver()?;
        let (app, stripe) = TestApp::with_stripe().await;
        let discount = app
            .offer(
                json!({"type": "discount", "value": 20, "label": "20% off for 3 months",
                          "target_id": "cancel", "priority": 10,
                          "config": {"duration": "repeating", "duration_in_months": 3}}),
            )
            .await;
        let pause = app
            .offer(
                json!({"type": "pause", "value": 1, "label": "Pause for a month",
                          "target_id": "cancel", "priority": 5}),
            )
            .await;
        let (status, _) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
        assert_eq!(status, 201);
        let host = HostPage::start(&app.address, json!({})).await;
        let (status, body) = parts(
            app.patch_settings(json!({"allowed_origins": [host.origin]}))
                .await,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let token = session_token(&app, json!({})).await;
        let address = app.address.clone();
        host.configure(|config| {
            *config = json!({"apiBase": address, "session": token, "targetId": "cancel", "triggers": triggers});
        });
        let browser = Browser::start(&driver).await;
        browser.goto(&host.url()).await;
        Some(Scene {
            app,
            stripe,
            host,
            browser,
            discount,
            pause,
        })
    }

    /// Reloads the host page with its configuration changed.
    async fn reload(&self, change: impl FnOnce(&mut Value)) {
        self.host.configure(change);
        self.browser.goto(&self.host.url()).await;
    }

    async fn click_cancel(&self) {
        self.browser
            .client
            .find(fantoccini::Locator::Id("cancel"))
            .await
            .expect("the host's cancel link")
            .click()
            .await
            .expect("clicks");
    }

    /// Outcomes recorded, as (offer, status).
    async fn outcomes(&self) -> Vec<(i64, String)> {
        entity::outcome::Entity::find()
            .all(&self.app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.offer_id, o.status))
            .collect()
    }

    /// The impressions' triggers, once `n` are stored (impressions are written in group
    /// commits that the answer does not wait for).
    async fn triggers(&self, n: usize) -> Vec<Option<String>> {
        let started = Instant::now();
        loop {
            let rows = entity::impression::Entity::find()
                .all(&self.app.db)
                .await
                .unwrap();
            if rows.len() >= n {
                return rows.into_iter().map(|r| r.trigger).collect();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{} impressions",
                rows.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) {
        self.browser.close().await;
    }
}

/// A session token from `POST /api/v1/sessions`, for ann with `extra` claims.
async fn session_token(app: &TestApp, extra: Value) -> String {
    let mut body = json!({"user_email": "ann@example.com", "stripe_customer_id": "cus_1",
                          "stripe_subscription_id": "sub_1", "mrr_value": 49});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, answer) = parts(app.post("/api/v1/sessions", &body).await).await;
    assert_eq!(status, 201, "{answer}");
    answer["token"].as_str().unwrap().to_owned()
}

// Texts are read as `textContent`: WebDriver's rendered text is empty while the dialog fades
// in (its opening animation starts from transparent).

/// The accept button of an offer, by its id.
fn accept(offer: i64) -> String {
    format!("[data-offer-id='{offer}'] [data-saveloops=accept]")
}

fn set(key: &'static str, value: Value) -> impl FnOnce(&mut Value) {
    move |config| config[key] = value
}

// ------------------------------------------------------------------ the flow

#[actix_web::test]
async fn a_click_holds_the_cancel_reads_the_reason_and_applies_the_discount() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    scene.click_cancel().await;
    let dialog = b.flow("[data-saveloops=dialog]").await;
    assert_eq!(
        dialog.attr("role").await.unwrap().as_deref(),
        Some("dialog")
    );
    assert_eq!(
        dialog.attr("aria-modal").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(b.path().await, "/", "the host's cancel action is held");
    b.flow("[data-saveloops=step-reason]").await;
    b.flow_all("[data-saveloops=reason-choice]").await[0]
        .click()
        .await
        .unwrap();
    b.flow("[data-saveloops=reason]")
        .await
        .send_keys("we are a small team and money is tight")
        .await
        .unwrap();
    b.click_flow("[data-saveloops=next]").await;
    // The reason reads as price: the discount is offered.
    let offer = b.flow("[data-saveloops=offer]").await;
    assert_eq!(
        offer.attr("data-offer-id").await.unwrap(),
        Some(scene.discount.to_string())
    );
    assert!(offer
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default()
        .contains("20% off for 3 months"));
    b.click_flow("[data-saveloops=offer] [data-saveloops=accept]")
        .await;
    let done = b.flow("[data-saveloops=step-done]").await;
    assert!(
        done.prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("20% off for 3 months"),
        "{}",
        done.prop("textContent").await.unwrap().unwrap_or_default()
    );
    // Applied in Stripe, to the token's subscription.
    let sub = scene.stripe.subscription("sub_1");
    assert_eq!(sub["discounts"].as_array().map(Vec::len), Some(1), "{sub}");
    assert_eq!(
        b.events().await,
        json!([{"kind": "saved", "offer": scene.discount, "type": "discount", "status": "applied"}])
    );
    assert_eq!(scene.triggers(1).await, vec![Some("click".to_owned())]);
    b.click_flow("[data-saveloops=done]").await;
    assert!(!b.flow_is_open().await);
    assert_eq!(
        b.path().await,
        "/",
        "a saved customer's cancellation does not go on"
    );
    scene.finish().await;
}

#[actix_web::test]
async fn declining_records_the_outcome_and_the_hosts_cancellation_proceeds() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=skip]").await;
    // Skipping the reason shows the intercept's offers, highest priority first.
    b.flow("[data-saveloops=step-offers]").await;
    let ids: Vec<Option<String>> = {
        let mut ids = Vec::new();
        for offer in b.flow_all("[data-saveloops=offer]").await {
            ids.push(offer.attr("data-offer-id").await.unwrap());
        }
        ids
    };
    assert_eq!(
        ids,
        vec![
            Some(scene.discount.to_string()),
            Some(scene.pause.to_string())
        ]
    );
    b.click_flow("[data-saveloops=decline]").await;
    b.until_path("/cancelled").await;
    let mut outcomes = scene.outcomes().await;
    outcomes.sort();
    let mut expected = vec![
        (scene.discount, "abandoned".to_owned()),
        (scene.pause, "abandoned".to_owned()),
    ];
    expected.sort();
    assert_eq!(outcomes, expected);
    assert_eq!(scene.stripe.applied_updates("sub_1"), 0);
    scene.finish().await;
}

#[actix_web::test]
async fn continue_to_cancel_is_one_click_away_on_every_step() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    // On the reason step.
    scene.click_cancel().await;
    b.flow("[data-saveloops=step-reason]").await;
    b.click_flow("[data-saveloops=continue-cancel]").await;
    b.until_path("/cancelled").await;
    // On the offers step.
    b.goto(&scene.host.url()).await;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=skip]").await;
    b.flow("[data-saveloops=step-offers]").await;
    b.click_flow("[data-saveloops=continue-cancel]").await;
    b.until_path("/cancelled").await;
    // With onCancel, the host takes over instead of the held click.
    scene.reload(set("hostOnCancel", json!(true))).await;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=continue-cancel]").await;
    b.until(
        "onCancel called",
        "return window.saveloopsEvents.length > 0",
    )
    .await;
    assert_eq!(
        b.events().await,
        json!([{"kind": "cancel", "reason": "declined", "trigger": "click"}])
    );
    assert_eq!(b.path().await, "/");
    scene.finish().await;
}

/// The widget's calls to the service so far (paths), as the page saw them.
async fn api_calls(b: &Browser) -> Vec<String> {
    serde_json::from_value(b.run("return window.apiCalls").await).unwrap()
}

#[actix_web::test]
async fn exit_intent_opens_once_per_page_view() {
    let Some(scene) = Scene::start(&["exit_intent"]).await else {
        return;
    };
    let b = &scene.browser;
    b.until_loaded().await;
    // The pointer leaves through the top of the viewport (towards the tab bar: no element is
    // entered, clientY ≤ 0). The widget calls intercept during the event itself, so the
    // calls are counted right after it.
    let leave = |x: i32, y: i32| {
        format!("document.documentElement.dispatchEvent(new MouseEvent('mouseout', {{bubbles: true, clientX: {x}, clientY: {y}, relatedTarget: null}})); return true;")
    };
    // Leaving through the side does nothing.
    b.run(&leave(-2, 300)).await;
    assert!(api_calls(b).await.is_empty());
    b.run(&leave(300, -2)).await;
    assert_eq!(api_calls(b).await, vec!["/api/v1/intercept"]);
    b.flow("[data-saveloops=step-reason]").await;
    b.press(ESCAPE).await;
    assert!(!b.flow_is_open().await);
    // Once per page view.
    b.run(&leave(300, -2)).await;
    assert_eq!(api_calls(b).await, vec!["/api/v1/intercept"]);
    assert!(!b.flow_is_open().await);
    assert_eq!(
        scene.triggers(1).await,
        vec![Some("exit_intent".to_owned())]
    );
    // The cancel link is not bound when click is not a trigger.
    scene.click_cancel().await;
    b.until_path("/cancelled").await;
    // A new page view may show it again.
    b.goto(&scene.host.url()).await;
    b.until_loaded().await;
    b.run(&leave(300, -2)).await;
    b.flow("[data-saveloops=step-reason]").await;
    scene.finish().await;
}

#[actix_web::test]
async fn hover_opens_after_a_dwell() {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction};
    let Some(scene) = Scene::start(&["hover"]).await else {
        return;
    };
    let b = &scene.browser;
    b.until_loaded().await;
    let link = b
        .client
        .find(fantoccini::Locator::Id("cancel"))
        .await
        .unwrap();
    // Passing over the link does nothing; resting on it opens the flow.
    let pass = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: link.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::MoveTo {
            duration: None,
            x: 5.0,
            y: 5.0,
        });
    b.client.perform_actions(pass).await.unwrap();
    let rest = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element: link,
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    b.client.perform_actions(rest).await.unwrap();
    b.flow("[data-saveloops=step-reason]").await;
    assert_eq!(api_calls(b).await, vec!["/api/v1/intercept"]);
    // Opened a dwell after the pointer came to rest, not after it passed.
    let after_rest = b
        .run("return performance.getEntriesByName('saveloops:open')[0].startTime - window.enters[window.enters.length - 1]")
        .await
        .as_f64()
        .unwrap();
    assert_eq!(b.run("return window.enters.length").await, 2);
    assert!(
        after_rest >= 600.0,
        "opened {after_rest} ms after the pointer came to rest"
    );
    assert_eq!(scene.triggers(1).await, vec![Some("hover".to_owned())]);
    scene.finish().await;
}

#[actix_web::test]
async fn every_offer_type_does_what_it_says() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    let app = &scene.app;
    // Only one offer at a time is live, so that each session sees the one under test.
    for id in [scene.discount, scene.pause] {
        assert_eq!(app.delete_offer(id).await.status(), 200);
    }
    let kinds = [
        json!({"type": "pause", "value": 2, "label": "Take two months off"}),
        json!({"type": "trial_extension", "value": 14, "label": "Two more weeks free"}),
        json!({"type": "downgrade", "value": 1, "label": "Move to Basic", "config": {"price_id": "price_basic"}}),
        json!({"type": "contact", "value": 1, "label": "Talk to our founder", "config": {"url": "https://example.com/call"}}),
        json!({"type": "custom", "value": 1, "label": "A free tote bag"}),
    ];
    let mut previous: Option<i64> = None;
    for (round, mut kind) in kinds.into_iter().enumerate() {
        if let Some(old) = previous {
            assert_eq!(app.delete_offer(old).await.status(), 200);
        }
        kind["target_id"] = json!("cancel");
        let kind_name = kind["type"].as_str().unwrap().to_owned();
        let id = app.offer(kind).await;
        previous = Some(id);
        // A fresh session each round: a session applies at most one offer.
        let token = session_token(app, json!({})).await;
        scene.reload(set("session", json!(token))).await;
        scene.click_cancel().await;
        b.click_flow("[data-saveloops=skip]").await;
        b.click_flow(&accept(id)).await;
        b.flow("[data-saveloops=step-done]").await;
        let events = b.events().await;
        let status = match kind_name.as_str() {
            "contact" | "custom" => "saved",
            _ => "applied",
        };
        assert_eq!(
            events,
            json!([{"kind": "saved", "offer": id, "type": kind_name, "status": status}]),
            "round {round}"
        );
        match kind_name.as_str() {
            "pause" => {
                let sub = scene.stripe.subscription("sub_1");
                assert!(!sub["pause_collection"].is_null(), "{sub}");
            }
            "trial_extension" => {
                let sub = scene.stripe.subscription("sub_1");
                assert!(
                    sub["trial_end"].as_i64().unwrap() > Utc::now().timestamp(),
                    "{sub}"
                );
            }
            "downgrade" => {
                let sub = scene.stripe.subscription("sub_1");
                assert_eq!(
                    sub["items"]["data"][0]["price"]["id"], "price_basic",
                    "{sub}"
                );
            }
            _ => {
                // No Stripe action: the choice is recorded as a save.
                let saved = entity::outcome::Entity::find()
                    .filter(entity::outcome::Column::OfferId.eq(id))
                    .filter(entity::outcome::Column::Status.eq("saved"))
                    .count(&app.db)
                    .await
                    .unwrap();
                assert_eq!(saved, 1, "{kind_name}");
            }
        }
        if kind_name == "contact" {
            // Its URL is opened for the end user.
            let started = Instant::now();
            while b.client.windows().await.unwrap().len() < 2 {
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "no window opened"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(b.path().await, "/");
    }
    scene.finish().await;
}

#[actix_web::test]
async fn a_stripe_outage_shows_that_the_offer_is_being_applied() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    scene.stripe.fail_always(Fault::Status(500));
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=skip]").await;
    b.click_flow(&accept(scene.discount)).await;
    let done = b.flow("[data-saveloops=step-done]").await;
    assert!(
        done.prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("being applied"),
        "{}",
        done.prop("textContent").await.unwrap().unwrap_or_default()
    );
    assert_eq!(
        b.events().await[0]["status"],
        "pending",
        "the host hears that it is pending"
    );
    scene.finish().await;
}

#[actix_web::test]
async fn a_refused_offer_says_why_and_cancelling_stays_open() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    // Stripe refuses the change for good (the subscription is gone).
    scene.stripe.set_subscription_status("sub_1", "canceled");
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=skip]").await;
    b.click_flow(&accept(scene.discount)).await;
    b.until(
        "the refusal is shown",
        "const s = document.querySelector('saveloops-flow').shadowRoot.querySelector('[data-saveloops=status]'); return s.textContent.startsWith('That did not work') && s.textContent;",
    )
    .await;
    assert!(b.events().await.as_array().unwrap().is_empty());
    b.click_flow("[data-saveloops=continue-cancel]").await;
    b.until_path("/cancelled").await;
    scene.finish().await;
}

// ------------------------------------------------------------------ never a trap

#[actix_web::test]
async fn a_refused_session_gets_out_of_the_way() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    let now = Utc::now().timestamp();
    let expired = {
        use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
        let (_, secrets) = parts(scene.app.get("/api/v1/signing-secrets").await).await;
        let kid = secrets["data"][0]["kid"].as_str().unwrap().to_owned();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid);
        encode(
            &header,
            &json!({"exp": now - 60, "user_email": "ann@example.com"}),
            &EncodingKey::from_secret(b"whatever"),
        )
        .unwrap()
    };
    for (what, token) in [
        ("expired and forged", expired),
        ("garbage", "not-a-token".to_owned()),
    ] {
        scene.reload(set("session", json!(token))).await;
        scene.click_cancel().await;
        b.until_path("/cancelled").await;
        assert!(!b.flow_is_open().await, "{what}");
    }
    // An origin the organization does not list: the same.
    let (status, _) = parts(
        scene
            .app
            .patch_settings(json!({"allowed_origins": ["https://elsewhere.example.com"]}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let token = session_token(&scene.app, json!({})).await;
    scene.reload(set("session", json!(token))).await;
    scene.click_cancel().await;
    b.until_path("/cancelled").await;
    assert!(scene.outcomes().await.is_empty());
    assert_eq!(
        entity::impression::Entity::find()
            .count(&scene.app.db)
            .await
            .unwrap(),
        0,
        "nothing recorded for refused sessions"
    );
    scene.finish().await;
}

#[actix_web::test]
async fn a_down_or_slow_service_gets_out_of_the_way() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    // Down: nothing listens.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    scene
        .reload(set("apiBase", json!(format!("http://127.0.0.1:{closed}"))))
        .await;
    scene.click_cancel().await;
    b.until_path("/cancelled").await;
    // Slow: it accepts and never answers; the widget gives up after 3 s.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = hanging.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = hanging.accept().await {
            open.push(stream);
        }
    });
    scene
        .reload(set("apiBase", json!(format!("http://127.0.0.1:{port}"))))
        .await;
    let clicked = Instant::now();
    scene.click_cancel().await;
    b.until_path("/cancelled").await;
    let waited = clicked.elapsed();
    assert!(
        waited >= Duration::from_millis(2900),
        "gave up after {waited:?}"
    );
    held.abort();
    scene.finish().await;
}

#[actix_web::test]
async fn the_flow_works_by_keyboard_alone_and_keeps_focus_inside() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    // Tab to the cancel link and press Enter.
    b.until("the page is ready", "return !!window.saveloopsFlow")
        .await;
    let started = Instant::now();
    while b.run("return document.activeElement.id").await != "cancel" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never reached the cancel link"
        );
        b.press(TAB).await;
    }
    b.press(ENTER).await;
    b.flow("[data-saveloops=step-reason]").await;
    assert_eq!(
        b.focused_in_flow().await,
        "reason-choice",
        "focus moves into the dialog"
    );
    b.press(SPACE).await; // the first reason
    b.press(TAB).await; // to the free text
    assert_eq!(b.focused_in_flow().await, "reason");
    b.client
        .perform_actions({
            use fantoccini::actions::{InputSource, KeyAction, KeyActions};
            "too pricey"
                .chars()
                .fold(KeyActions::new("typing".into()), |keys, c| {
                    keys.then(KeyAction::Down { value: c })
                        .then(KeyAction::Up { value: c })
                })
        })
        .await
        .unwrap();
    // Focus never leaves the dialog, however far one tabs, forwards or back.
    for _ in 0..12 {
        b.press(TAB).await;
        assert!(
            !b.focused_in_flow().await.is_null(),
            "focus escaped the dialog"
        );
    }
    while b.focused_in_flow().await != "next" {
        b.press(TAB).await;
    }
    b.press(ENTER).await;
    b.flow("[data-saveloops=step-offers]").await;
    assert_eq!(b.focused_in_flow().await, "accept");
    // Escape closes; focus returns to the cancel link; nothing is cancelled.
    b.press(ESCAPE).await;
    assert!(!b.flow_is_open().await);
    assert_eq!(b.run("return document.activeElement.id").await, "cancel");
    assert_eq!(b.path().await, "/");
    scene.finish().await;
}

// ------------------------------------------------------------------ the page it lives in

/// The red, green and blue of a computed colour, `rgb(…)` or `rgba(…, 1)` alike.
fn rgb(color: &str) -> [u8; 3] {
    let parts: Vec<u8> = color
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|part| {
            part.trim()
                .parse()
                .unwrap_or_else(|_| panic!("a colour: {color}"))
        })
        .collect();
    [parts[0], parts[1], parts[2]]
}

#[actix_web::test]
async fn it_runs_under_a_strict_csp_isolated_from_the_hosts_styles_and_themable() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    scene
        .reload(set(
            "theme",
            json!({"accent": "rgb(0, 128, 0)", "radius": "2px"}),
        ))
        .await;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=skip]").await;
    let accept = b.flow("[data-saveloops=accept]").await;
    // The host styles every button red at 40px, !important: not the widget's.
    assert_eq!(
        rgb(&accept.css_value("color").await.unwrap()),
        [255, 255, 255]
    );
    assert_ne!(accept.css_value("font-size").await.unwrap(), "40px");
    // The theme's custom property reaches the widget.
    assert_eq!(
        rgb(&accept.css_value("background-color").await.unwrap()),
        [0, 128, 0]
    );
    // The host page's own elements keep the host's styles.
    let other = b
        .client
        .find(fantoccini::Locator::Id("other"))
        .await
        .unwrap();
    assert_eq!(rgb(&other.css_value("color").await.unwrap()), [255, 0, 0]);
    // Nothing the strict policy had to block.
    assert_eq!(b.run("return window.cspViolations").await, json!([]));
    assert_eq!(
        b.run("return document.querySelector('saveloops-flow').shadowRoot.mode")
            .await,
        "open"
    );
    scene.finish().await;
}

#[actix_web::test]
async fn it_speaks_german_french_and_spanish_and_any_string_can_be_replaced() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    for (locale, cancel) in [
        ("de", "Weiter zur Kündigung"),
        ("fr", "Continuer la résiliation"),
        ("es", "Seguir con la cancelación"),
    ] {
        scene.reload(set("locale", json!(locale))).await;
        scene.click_cancel().await;
        let control = b.flow("[data-saveloops=continue-cancel]").await;
        assert_eq!(
            control
                .prop("textContent")
                .await
                .unwrap()
                .unwrap_or_default(),
            cancel
        );
        b.press(ESCAPE).await;
    }
    // The page's own language is used when none is given; messages override any string.
    scene
        .reload(|config| {
            config["locale"] = Value::Null;
            config["pageLang"] = json!("fr");
            config["messages"] = json!({"title": "Attendez !"});
        })
        .await;
    scene.click_cancel().await;
    let title = b.flow("#saveloops-title").await;
    assert_eq!(
        title.prop("textContent").await.unwrap().unwrap_or_default(),
        "Attendez !"
    );
    let skip = b.flow("[data-saveloops=skip]").await;
    assert_eq!(
        skip.prop("textContent").await.unwrap().unwrap_or_default(),
        "Passer"
    );
    scene.finish().await;
}

#[actix_web::test]
async fn a_failed_payment_opens_stripes_card_update_page() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    let flagged = scene
        .app
        .dunning(json!({"stripe_customer_id": "cus_1"}))
        .await;
    assert_eq!(flagged.status(), 200);
    scene.click_cancel().await;
    b.flow("[data-saveloops=step-card]").await;
    b.click_flow("[data-saveloops=update-card]").await;
    // Sent to the billing-portal page Stripe opened for the token's customer.
    let started = Instant::now();
    let url = loop {
        let url = b.client.current_url().await.unwrap();
        if url.path().starts_with("/p/session/") {
            break url;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "still at {url}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(url.origin().ascii_serialization(), scene.stripe.base_url());
    let portal = scene
        .stripe
        .requests_to("POST", "/v1/billing_portal/sessions");
    assert_eq!(portal.len(), 1);
    assert_eq!(portal[0].param("customer"), Some("cus_1"));
    assert_eq!(
        portal[0].param("flow_data[type]"),
        Some("payment_method_update")
    );
    assert_eq!(
        portal[0].param("return_url"),
        Some(scene.host.url().as_str())
    );
    // A host may send its own page instead; "not now" goes on to the reason.
    scene
        .reload(set(
            "updateCardUrl",
            json!(format!("{}/cancelled", scene.host.origin)),
        ))
        .await;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=not-now]").await;
    b.flow("[data-saveloops=step-reason]").await;
    b.press(ESCAPE).await;
    scene.click_cancel().await;
    b.click_flow("[data-saveloops=update-card]").await;
    b.until_path("/cancelled").await;
    assert_eq!(
        scene
            .stripe
            .requests_to("POST", "/v1/billing_portal/sessions")
            .len(),
        1
    );
    scene.finish().await;
}

#[actix_web::test]
async fn axe_core_finds_no_violations_on_any_step() {
    let Some(scene) = Scene::start(&["click"]).await else {
        return;
    };
    let b = &scene.browser;
    scene
        .app
        .dunning(json!({"stripe_customer_id": "cus_1"}))
        .await;
    let scan = |step: &'static str| async move {
        b.run(&format!("{AXE}\n;return true;")).await;
        let violations = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document)
                   .then(r => done({
                     passes: r.passes.map(p => p.id),
                     violations: r.violations.map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => JSON.stringify(n.target)).join(' '))
                   }))
                   .catch(e => done({passes: [], violations: ['axe failed: ' + e]}));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(violations["violations"], json!([]), "on the {step} step");
        // The scan saw the dialog: the rules about it ran and passed.
        let passes = violations["passes"].as_array().unwrap();
        assert!(
            passes.iter().any(|rule| rule == "aria-dialog-name"),
            "on the {step} step, axe did not check the dialog: {passes:?}"
        );
    };
    scene.click_cancel().await;
    b.flow("[data-saveloops=step-card]").await;
    scan("card").await;
    b.click_flow("[data-saveloops=not-now]").await;
    b.flow("[data-saveloops=step-reason]").await;
    scan("reason").await;
    b.click_flow("[data-saveloops=skip]").await;
    b.flow("[data-saveloops=step-offers]").await;
    scan("offers").await;
    b.click_flow("[data-saveloops=accept]").await;
    b.flow("[data-saveloops=step-done]").await;
    scan("done").await;
    scene.finish().await;
}

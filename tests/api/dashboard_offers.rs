//! The owners' Offers pages: in real Chromium, an owner creates an offer (refused first, with
//! the API's message beside the field and the form as typed), edits it, deactivates it, and
//! the API shows the same; a form without its CSRF token is refused; axe-core finds nothing.
//! Over HTTP: the pages answer the API's messages for the same input, support staff are
//! refused, and no path or form makes a 500.
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{chromedriver, Browser};
use crate::dashboard::{click, fill, scan, sign_in, until_text};
use crate::dashboard_support::{csrf_of, form, invite, WebClient, PASSWORD};
use crate::helpers::{parts, TestApp};

pub async fn choose(b: &Browser, css: &str, value: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .expect(css)
        .select_by_value(value)
        .await
        .expect("chosen");
}

/// The organization's offers, as the API lists them.
async fn api_offers(app: &TestApp) -> Vec<Value> {
    let (status, body) = parts(app.get("/api/v1/offers").await).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// The owner, invited through the API, signed in in a browser.
pub async fn owner_in_browser(app: &TestApp, driver: &str) -> Browser {
    let mut web = WebClient::new(app);
    let link = invite(app, "owner@example.com", "owner").await;
    assert_eq!(web.accept(&link, PASSWORD).await, 303);
    let b = Browser::start(driver).await;
    sign_in(&b, app, "owner@example.com").await;
    b
}

#[actix_web::test]
async fn an_owner_creates_edits_and_deactivates_an_offer_in_the_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let b = owner_in_browser(&app, &driver).await;

    click(&b, "nav a[href='/app/offers']").await;
    b.until_path("/app/offers").await;
    scan(&b, "the offers, none yet").await;
    click(&b, "a[href='/app/offers/new']").await;
    b.until_path("/app/offers/new").await;
    scan(&b, "the new offer form").await;

    // A discount of 150 % is refused with the API's message beside the value; the form keeps
    // what was typed.
    choose(&b, "#type", "discount").await;
    fill(&b, "#label", "20% off").await;
    fill(&b, "#value", "150").await;
    fill(&b, "#target-id", "cancel-btn").await;
    click(&b, "#triggers-click").await;
    click(&b, "form.offer button[type=submit]").await;
    until_text(
        &b,
        "#value-error",
        "The value field must be between 0 and 100 for a discount (percent off).",
    )
    .await;
    let kept = b
        .run("return [document.querySelector('#label').value, document.querySelector('#value').value, document.querySelector('#triggers-click').checked, document.querySelector('#value').getAttribute('aria-invalid')]")
        .await;
    assert_eq!(kept, json!(["20% off", "150", true, "true"]));
    assert!(api_offers(&app).await.is_empty(), "nothing was created");
    scan(&b, "the refused form").await;

    // Fixed: created, repeating for 3 months.
    fill(&b, "#value", "20").await;
    choose(&b, "#config-duration", "repeating").await;
    fill(&b, "#config-duration-in-months", "3").await;
    click(&b, "form.offer button[type=submit]").await;
    until_text(&b, "#offer-state", "active").await;
    until_text(&b, "#offer-terms", "20 % off for 3 months").await;
    let offers = api_offers(&app).await;
    assert_eq!(offers.len(), 1);
    let offer = &offers[0];
    let id = offer["id"].as_i64().unwrap();
    assert_eq!(offer["label"], "20% off");
    assert_eq!(offer["value"], json!(20));
    assert_eq!(
        offer["config"],
        json!({"duration": "repeating", "duration_in_months": 3})
    );
    assert_eq!(offer["target_id"], "cancel-btn");
    assert_eq!(offer["triggers"], json!(["click"]));
    assert_eq!(offer["active"], true);
    assert_eq!(b.path().await, format!("/app/offers/{id}"));
    scan(&b, "an offer").await;

    // Edited: a redemption cap that is no integer is refused and nothing changes; then saved.
    fill(&b, "#label", "Stay for 20% less").await;
    fill(&b, "#max-redemptions", "lots").await;
    click(&b, "form.offer button[type=submit]").await;
    until_text(
        &b,
        "#max-redemptions-error",
        "The max redemptions field must be an integer.",
    )
    .await;
    let kept = b.run("return document.querySelector('#label').value").await;
    assert_eq!(kept, json!("Stay for 20% less"));
    assert_eq!(api_offers(&app).await[0]["label"], "20% off");
    fill(&b, "#max-redemptions", "100").await;
    fill(&b, "#priority", "5").await;
    click(&b, "form.offer button[type=submit]").await;
    b.until(
        "saved",
        "return document.body.textContent.includes('Offer saved.')",
    )
    .await;
    let offer = &api_offers(&app).await[0];
    assert_eq!(offer["label"], "Stay for 20% less");
    assert_eq!(offer["max_redemptions"], json!(100));
    assert_eq!(offer["priority"], json!(5));
    assert_eq!(
        offer["config"],
        json!({"duration": "repeating", "duration_in_months": 3}),
        "the terms are kept"
    );

    // Deactivated: the page, the list and the API agree.
    click(&b, "form[aria-label='Deactivate'] button").await;
    until_text(&b, "#offer-state", "deactivated").await;
    assert_eq!(api_offers(&app).await[0]["active"], false);
    click(&b, "nav a[href='/app/offers']").await;
    b.until_path("/app/offers").await;
    until_text(&b, &format!("#offer-{id} td.state"), "deactivated").await;
    scan(&b, "the offers").await;

    // A form stripped of its CSRF token is refused, and the offer does not change.
    b.goto(&format!("{}/app/offers/{id}", app.address)).await;
    b.until_loaded().await;
    b.run("document.querySelectorAll('form.offer input[name=csrf]').forEach(e => e.remove()); return true;").await;
    fill(&b, "#label", "Forged").await;
    click(&b, "form.offer button[type=submit]").await;
    b.until(
        "the form is refused",
        "return document.body.textContent.includes('Form refused')",
    )
    .await;
    assert_eq!(api_offers(&app).await[0]["label"], "Stay for 20% less");
    b.close().await;
}

/// Posts the new-offer form as an owner's browser would; answers status and page.
async fn post_offer(web: &mut WebClient, fields: &[(&str, &str)]) -> (u16, String) {
    let (status, _, html) = web.get("/app/offers/new").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    let (status, _, body) = web.post("/app/offers/new", form(&all)).await;
    (status, body)
}

#[actix_web::test]
async fn the_offer_form_answers_the_apis_messages_and_changes_nothing_when_refused() {
    let app = TestApp::spawn().await;
    let mut web = WebClient::member(&app, "owner@example.com", "owner").await;
    // The same input through the form and through the API: the same messages.
    let long = "x".repeat(256);
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (vec![], json!({})),
        (
            vec![("type", "downgrade"), ("value", "0"), ("label", "Basic")],
            json!({"type": "downgrade", "value": "0", "label": "Basic", "config": {}}),
        ),
        (
            vec![
                ("type", "contact"),
                ("value", "0"),
                ("label", "Call us"),
                ("config.url", "ftp://x"),
            ],
            json!({"type": "contact", "value": "0", "label": "Call us", "config": {"url": "ftp://x"}}),
        ),
        (
            vec![
                ("type", "discount"),
                ("value", "10"),
                ("label", "10"),
                ("config.duration", "repeating"),
                ("config.duration_in_months", "1.5"),
            ],
            json!({"type": "discount", "value": "10", "label": "10", "config": {"duration": "repeating", "duration_in_months": "1.5"}}),
        ),
        (
            vec![
                ("type", "custom"),
                ("value", "0"),
                ("label", "Custom"),
                ("config", "[1, 2]"),
            ],
            json!({"type": "custom", "value": "0", "label": "Custom", "config": "[1, 2]"}),
        ),
        (
            vec![
                ("type", "pause"),
                ("value", "1.5"),
                ("label", "Pause"),
                ("min_mrr", "50"),
                ("max_mrr", "10"),
                ("priority", "x"),
                ("cooldown_days", "99999"),
                ("requires_subscription", "maybe"),
            ],
            json!({"type": "pause", "value": "1.5", "label": "Pause", "min_mrr": "50", "max_mrr": "10", "priority": "x", "cooldown_days": "99999", "requires_subscription": "maybe"}),
        ),
        (
            vec![("type", "bogus"), ("value", "-1"), ("label", &long)],
            json!({"type": "bogus", "value": "-1", "label": long}),
        ),
    ];
    for (fields, api_body) in cases {
        let (status, page) = post_offer(&mut web, &fields).await;
        assert_eq!(status, 422, "{fields:?}");
        let (api_status, api) = parts(app.create_offer(api_body.clone()).await).await;
        assert_eq!(api_status, 422, "{api_body}");
        let messages: Vec<String> = api["errors"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|m| m.as_array().unwrap().iter())
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        assert!(!messages.is_empty());
        for message in &messages {
            assert!(
                page.contains(message),
                "the page says {message:?} for {fields:?}"
            );
        }
        assert!(
            page.contains(api["message"].as_str().unwrap()),
            "the summary"
        );
    }
    assert!(api_offers(&app).await.is_empty(), "nothing was created");

    // A valid one, with every field the form has.
    let (status, _) = post_offer(
        &mut web,
        &[
            ("type", "pause"),
            ("value", "2"),
            ("label", "Take two months off"),
            ("config.behavior", "keep_as_draft"),
            ("config.url", "ignored: another type's field"),
            ("triggers.exit_intent", "on"),
            ("triggers.hover", "on"),
            ("min_mrr", "10"),
            ("max_mrr", "99.5"),
            ("priority", "3"),
            ("cooldown_days", "30"),
            ("type_cooldown_days", "0"),
            ("max_redemptions", "500"),
            ("max_redemptions_per_user", "1"),
            ("requires_subscription", "true"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let offer = &api_offers(&app).await[0];
    assert_eq!(offer["type"], "pause");
    assert_eq!(offer["config"], json!({"behavior": "keep_as_draft"}));
    assert_eq!(offer["triggers"], json!(["exit_intent", "hover"]));
    assert_eq!(offer["min_mrr"], json!(10));
    assert_eq!(offer["max_mrr"], json!(99.5));
    assert_eq!(offer["cooldown_days"], json!(30));
    assert_eq!(offer["type_cooldown_days"], json!(0));
    assert_eq!(offer["max_redemptions_per_user"], json!(1));
    assert_eq!(offer["requires_subscription"], true);
    assert_eq!(offer["active"], false, "the Active box was not checked");
    let id = offer["id"].as_i64().unwrap();

    // The edit form shows what is stored; saving it unchanged changes nothing but the time.
    let (status, _, html) = web.get(&format!("/app/offers/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"Take two months off\""));
    assert!(html.contains("value=\"99.5\""));
    let csrf = csrf_of(&html);
    let (status, _, page) = web
        .post(
            &format!("/app/offers/{id}"),
            form(&[
                ("csrf", &csrf),
                ("action", "save"),
                ("type", "pause"),
                ("value", "2"),
                ("label", "Take two months off"),
                ("max_mrr", "5"),
                ("min_mrr", "10"),
            ]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("The max mrr field must be greater than or equal to min mrr."));
    assert_eq!(api_offers(&app).await[0]["max_mrr"], json!(99.5));
    let (status, _, _) = web
        .post(
            &format!("/app/offers/{id}"),
            form(&[("csrf", &csrf), ("action", "explode")]),
        )
        .await;
    assert_eq!(status, 422);
    let (status, location, _) = web
        .post(
            &format!("/app/offers/{id}"),
            form(&[("csrf", &csrf), ("action", "activate")]),
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/app/offers/{id}?done=activated").as_str())
    );
    assert_eq!(api_offers(&app).await[0]["active"], true);

    // No such offer, however the path is written; another organization's is none either.
    let (_, other_key) = app.second_organization().await;
    let (status, theirs) = parts(
        app.post_as(
            &other_key,
            "/api/v1/offers",
            &json!({"type": "custom", "value": 0, "label": "Theirs"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let theirs = theirs["id"].as_i64().unwrap();
    for path in [
        "/app/offers/abc".to_owned(),
        "/app/offers/0".to_owned(),
        "/app/offers/99999999999999999999".to_owned(),
        format!("/app/offers/{theirs}"),
    ] {
        let (status, _, _) = web.get(&path).await;
        assert_eq!(status, 404, "{path}");
        let (status, _, _) = web
            .post(&path, form(&[("csrf", &csrf), ("action", "deactivate")]))
            .await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, body) = parts(
        app.get_as(&other_key, &format!("/api/v1/offers/{theirs}"))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true, "theirs is untouched");
}

#[actix_web::test]
async fn offers_and_experiments_pages_refuse_support_staff_and_forms_without_their_token() {
    let app = TestApp::spawn().await;
    let offer = app
        .offer(json!({"type": "custom", "value": 0, "label": "Ours"}))
        .await;
    let mut owner = WebClient::member(&app, "owner@example.com", "owner").await;
    let mut support = WebClient::member(&app, "sam@example.com", "support").await;
    let (status, _, html) = support.get("/app/tickets").await;
    assert_eq!(status, 200);
    assert!(
        !html.contains("href=\"/app/offers\"") && !html.contains("href=\"/app/experiments\""),
        "support sees no Offers or Experiments in the menu"
    );
    let support_csrf = csrf_of(&html);
    let pages = [
        "/app/offers".to_owned(),
        "/app/offers/new".to_owned(),
        format!("/app/offers/{offer}"),
        "/app/experiments".to_owned(),
        "/app/experiments/new".to_owned(),
        "/app/experiments/1".to_owned(),
    ];
    for path in &pages {
        let (status, _, body) = support.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("This page is for the organization"));
    }
    for path in [
        "/app/offers/new".to_owned(),
        format!("/app/offers/{offer}"),
        "/app/experiments/new".to_owned(),
    ] {
        let (status, _, _) = support
            .post(
                &path,
                form(&[
                    ("csrf", &support_csrf),
                    ("type", "custom"),
                    ("value", "0"),
                    ("label", "By support"),
                    ("action", "deactivate"),
                ]),
            )
            .await;
        assert_eq!(status, 403, "{path}");
    }
    // The owner without the token (or with another session's).
    for token in ["", support_csrf.as_str()] {
        let (status, _, _) = owner
            .post(
                "/app/offers/new",
                form(&[
                    ("csrf", token),
                    ("type", "custom"),
                    ("value", "0"),
                    ("label", "Forged"),
                ]),
            )
            .await;
        assert_eq!(status, 403);
        let (status, _, _) = owner
            .post(
                &format!("/app/offers/{offer}"),
                form(&[("csrf", token), ("action", "deactivate")]),
            )
            .await;
        assert_eq!(status, 403);
    }
    let offers = api_offers(&app).await;
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0]["active"], true);
    // Signed out: to the sign-in form.
    let mut nobody = WebClient::new(&app);
    for path in &pages {
        let (status, location, _) = nobody.get(path).await;
        assert_eq!(status, 303, "{path}");
        assert_eq!(location.as_deref(), Some("/app/sign-in"));
    }
    // Owners see both in the menu.
    let (_, _, html) = owner.get("/app/offers").await;
    assert!(html.contains("href=\"/app/experiments\""));
}

//! The team's dashboard in real Chromium: a member invited through the API sets a password,
//! signs in, reads the overview from real outcomes, works a ticket opened by a real reason,
//! and signs out; support staff are refused the owners' pages; a form stripped of its CSRF
//! token is refused; axe-core finds no violation on any page.
use fantoccini::Locator;
use serde_json::{json, Value};

use crate::browser::{chromedriver, Browser};
use crate::dashboard_support::{invite, PASSWORD};
use crate::helpers::{parts, TestApp};

const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

pub async fn fill(b: &Browser, css: &str, text: &str) {
    let field = b.client.find(Locator::Css(css)).await.expect(css);
    field.clear().await.expect("cleared");
    field.send_keys(text).await.expect("typed");
}

pub async fn click(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("clicked");
}

/// The text of the element `css` names, once it exists and says `wanted`.
pub async fn until_text(b: &Browser, css: &str, wanted: &str) {
    b.until(
        &format!("{css} says {wanted:?}"),
        &format!(
            "const e = document.querySelector({}); return !!e && e.textContent.trim() === {};",
            json!(css),
            json!(wanted)
        ),
    )
    .await;
}

/// Runs axe-core on the page; no violation.
pub async fn scan(b: &Browser, page: &str) {
    b.until_loaded().await;
    b.run(&format!("{AXE}\n;return true;")).await;
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then(r => done({
                 passes: r.passes.length,
                 violations: r.violations.map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => JSON.stringify(n.target)).join(' '))
               }))
               .catch(e => done({passes: 0, violations: ['axe failed: ' + e]}));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(result["violations"], json!([]), "on {page}");
    assert!(result["passes"].as_u64().unwrap() > 0, "axe checked {page}");
}

pub async fn sign_in(b: &Browser, app: &TestApp, email: &str) {
    b.goto(&format!("{}/app/sign-in", app.address)).await;
    fill(b, "#email", email).await;
    fill(b, "#password", PASSWORD).await;
    click(b, "form[action='/app/sign-in'] button").await;
    b.until_path("/app").await;
}

/// One save and one abandon, and a furious reason that opens a ticket.
async fn real_data(app: &TestApp) -> i64 {
    let offer = app
        .offer(
            json!({"type": "discount", "value": 20, "label": "20% off", "target_id": "cancel-btn"}),
        )
        .await;
    for email in ["u1@example.com", "u2@example.com"] {
        let (status, _) = parts(
            app.intercept(json!({"target_id": "cancel-btn", "user_email": email}))
                .await,
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = parts(
        app.outcome(json!({"offer_id": offer, "status": "saved", "user_email": "u1@example.com", "mrr_value": 29}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = parts(
        app.outcome(
            json!({"offer_id": offer, "status": "abandoned", "user_email": "u2@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, angry) = parts(
        app.post(
            "/api/v1/intercept/sentiment",
            &json!({"reason": "Your app has been DOWN all week and support never answered!!! Worst service ever",
                    "user_email": "furious@example.com", "target_id": "cancel-form"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{angry}");
    assert_eq!(angry["create_support_ticket"], true, "{angry}");
    let (_, tickets) = parts(app.get("/api/v1/tickets").await).await;
    tickets["data"][0]["id"].as_i64().expect("a ticket")
}

#[actix_web::test]
async fn an_invited_owner_signs_in_reads_the_overview_works_a_ticket_and_signs_out() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let ticket = real_data(&app).await;
    let link = invite(&app, "owner@example.com", "owner").await;
    let b = Browser::start(&driver).await;

    // The one-time link: set the password.
    b.goto(&link).await;
    scan(&b, "the invitation").await;
    fill(&b, "#password", PASSWORD).await;
    fill(&b, "#confirmation", PASSWORD).await;
    click(&b, "form button[type=submit]").await;
    b.until_path("/app/sign-in").await;
    scan(&b, "the sign-in form").await;

    // Sign in: the overview, from the outcomes sent.
    fill(&b, "#email", "owner@example.com").await;
    fill(&b, "#password", PASSWORD).await;
    click(&b, "form[action='/app/sign-in'] button").await;
    b.until_path("/app").await;
    until_text(&b, "#saves", "1").await;
    until_text(&b, "#impressions", "2").await;
    until_text(&b, "#save-rate", "50.0 %").await;
    let bars = b
        .run("return document.querySelectorAll('figure.chart svg rect.bar').length")
        .await;
    assert!(bars.as_u64().unwrap() >= 30, "one bar a day: {bars}");
    let offers = b
        .run("return [...document.querySelectorAll('td')].some(td => td.textContent === '20% off')")
        .await;
    assert_eq!(offers, Value::Bool(true));
    scan(&b, "the overview").await;

    // The inbox, then the ticket the furious reason opened.
    click(&b, "nav a[href='/app/tickets']").await;
    b.until_path("/app/tickets").await;
    scan(&b, "the inbox").await;
    click(&b, &format!("a[href='/app/tickets/{ticket}']")).await;
    b.until_path(&format!("/app/tickets/{ticket}")).await;
    let reason = b
        .run("return document.querySelector('#ticket-reason').textContent")
        .await;
    assert!(
        reason.as_str().unwrap().contains("DOWN all week"),
        "{reason}"
    );
    until_text(&b, "#ticket-status", "open").await;
    scan(&b, "a ticket").await;

    // Assign, change status, add a note: each visible after a reload.
    b.client
        .find(Locator::Css("#assignee"))
        .await
        .unwrap()
        .select_by_value("owner@example.com")
        .await
        .unwrap();
    click(&b, "form[aria-label='Assign'] button").await;
    until_text(&b, "#ticket-assignee", "owner@example.com").await;
    b.client
        .find(Locator::Css("#status"))
        .await
        .unwrap()
        .select_by_value("pending")
        .await
        .unwrap();
    click(&b, "form[aria-label='Change status'] button").await;
    until_text(&b, "#ticket-status", "pending").await;
    fill(&b, "#note", "Called them back; outage credit offered.").await;
    click(&b, "form[aria-label='Note'] button").await;
    until_text(
        &b,
        "#ticket-note",
        "Called them back; outage credit offered.",
    )
    .await;
    b.client.refresh().await.unwrap();
    until_text(&b, "#ticket-status", "pending").await;
    until_text(&b, "#ticket-assignee", "owner@example.com").await;
    let (_, stored) = parts(app.get(&format!("/api/v1/tickets/{ticket}")).await).await;
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["assignee"], "owner@example.com");
    assert_eq!(stored["note"], "Called them back; outage credit offered.");

    // The inbox filters: pending tickets assigned to me show it, solved ones do not.
    b.goto(&format!(
        "{}/app/tickets?status=pending&assignee=owner%40example.com",
        app.address
    ))
    .await;
    b.until(
        "the pending ticket is listed",
        &format!("return !!document.querySelector(\"a[href='/app/tickets/{ticket}']\")"),
    )
    .await;
    b.goto(&format!("{}/app/tickets?status=solved", app.address))
        .await;
    b.until(
        "no solved ticket",
        "return document.body.textContent.includes('No tickets match.')",
    )
    .await;

    // The owners' page.
    click(&b, "nav a[href='/app/members']").await;
    b.until_path("/app/members").await;
    scan(&b, "the members").await;

    // A form stripped of its CSRF token is refused, and the ticket does not change.
    b.goto(&format!("{}/app/tickets/{ticket}", app.address))
        .await;
    b.until_loaded().await;
    b.run("document.querySelectorAll('form[aria-label=\"Change status\"] input[name=csrf]').forEach(e => e.remove()); return true;").await;
    b.client
        .find(Locator::Css("#status"))
        .await
        .unwrap()
        .select_by_value("solved")
        .await
        .unwrap();
    click(&b, "form[aria-label='Change status'] button").await;
    b.until(
        "the form is refused",
        "return document.body.textContent.includes('Form refused')",
    )
    .await;
    scan(&b, "the refusal").await;
    let (_, stored) = parts(app.get(&format!("/api/v1/tickets/{ticket}")).await).await;
    assert_eq!(stored["status"], "pending");

    // Sign out: back to the sign-in form, and the dashboard asks again.
    b.goto(&format!("{}/app", app.address)).await;
    b.until_loaded().await;
    click(&b, "form[action='/app/sign-out'] button").await;
    b.until_path("/app/sign-in").await;
    b.goto(&format!("{}/app/tickets", app.address)).await;
    b.until_path("/app/sign-in").await;
    b.close().await;
}

#[actix_web::test]
async fn a_support_member_works_tickets_but_is_refused_the_owners_pages() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    real_data(&app).await;
    let mut web = crate::dashboard_support::WebClient::new(&app);
    let link = invite(&app, "sam@example.com", "support").await;
    assert_eq!(web.accept(&link, PASSWORD).await, 303);
    let b = Browser::start(&driver).await;
    sign_in(&b, &app, "sam@example.com").await;
    until_text(&b, "#saves", "1").await;
    let owner_link = b
        .run("return !!document.querySelector(\"a[href='/app/members']\")")
        .await;
    assert_eq!(
        owner_link,
        Value::Bool(false),
        "support sees no owner page in the menu"
    );
    click(&b, "nav a[href='/app/tickets']").await;
    b.until_path("/app/tickets").await;
    b.goto(&format!("{}/app/members", app.address)).await;
    b.until(
        "refused",
        "return document.body.textContent.includes('This page is for the organization')",
    )
    .await;
    scan(&b, "the refusal").await;

    // Wrong passwords, then throttled, in the browser too.
    let other = Browser::start(&driver).await;
    for _ in 0..5 {
        other.goto(&format!("{}/app/sign-in", app.address)).await;
        fill(&other, "#email", "sam@example.com").await;
        fill(&other, "#password", "not the password").await;
        click(&other, "form[action='/app/sign-in'] button").await;
        other.until("refused", "return document.body.textContent.includes('These credentials do not match our records.')").await;
    }
    other.goto(&format!("{}/app/sign-in", app.address)).await;
    fill(&other, "#email", "sam@example.com").await;
    fill(&other, "#password", PASSWORD).await;
    click(&other, "form[action='/app/sign-in'] button").await;
    other
        .until(
            "throttled",
            "return document.body.textContent.includes('Too many failed sign-ins')",
        )
        .await;
    scan(&other, "the throttled sign-in").await;
    other.close().await;
    b.close().await;
}

#[actix_web::test]
async fn the_owners_settings_page_shows_the_settings_and_no_secret() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let (status, _) = parts(
        app.patch(
            "/api/v1/settings",
            &json!({"allowed_origins": ["https://app.example.com"], "offer_cooldown_days": 14}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, secret) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
    assert_eq!(status, 201, "{secret}");
    let kid = secret["kid"].as_str().unwrap().to_owned();
    let raw = secret["secret"].as_str().unwrap().to_owned();
    let mut web = crate::dashboard_support::WebClient::new(&app);
    let link = invite(&app, "owner@example.com", "owner").await;
    assert_eq!(web.accept(&link, PASSWORD).await, 303);
    let mut support =
        crate::dashboard_support::WebClient::member(&app, "sam@example.com", "support").await;
    let (status, _, _) = support.get("/app/settings").await;
    assert_eq!(status, 403, "support staff are refused the settings");

    let b = Browser::start(&driver).await;
    sign_in(&b, &app, "owner@example.com").await;
    click(&b, "nav a[href='/app/settings']").await;
    b.until_path("/app/settings").await;
    b.until(
        "the origins are in their field",
        "return document.querySelector('#allowed_origins').value === 'https://app.example.com'",
    )
    .await;
    let text = b.run("return document.body.textContent").await;
    let text = text.as_str().unwrap();
    assert!(text.contains(&kid), "the secret's kid is listed");
    assert!(!text.contains(&raw), "never the secret");
    assert!(
        text.contains("/api/v1/stripe/webhooks/"),
        "the endpoint's URL"
    );
    let cooldown = b
        .run("return document.querySelector('#offer_cooldown_days').value")
        .await;
    assert_eq!(cooldown, json!("14"));
    scan(&b, "the settings").await;
    b.close().await;
}

//! The owners' and operators' administration in real Chromium: the settings edited in their
//! form (a refused save first, with the API's messages beside the fields and what was typed
//! kept; the API then reads the change), a signing secret created (shown once) and revoked;
//! members' roles changed, a member removed (signed out), the last owner kept, a new password
//! link; an operator's key created (shown once) and revoked (the API then refuses it). Forms
//! stripped of their CSRF token are refused; axe-core finds no violation on any page.
use serde_json::{json, Value};

use crate::browser::{chromedriver, Browser};
use crate::dashboard::{click, fill, scan, sign_in, until_text};
use crate::dashboard_support::{invite, WebClient, PASSWORD};
use crate::helpers::{parts, TestApp};
use crate::ops_support::{ops_app, ADMIN_TOKEN};

async fn text_of(b: &Browser, css: &str) -> String {
    let found = b
        .run(&format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            json!(css)
        ))
        .await;
    found
        .as_str()
        .unwrap_or_else(|| panic!("{css} is on the page"))
        .to_owned()
}

async fn value_of(b: &Browser, css: &str) -> Value {
    b.run(&format!(
        "return document.querySelector({}).value;",
        json!(css)
    ))
    .await
}

async fn body_text(b: &Browser) -> String {
    b.run("return document.body.textContent")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

async fn until_body_says(b: &Browser, wanted: &str) {
    b.until(
        &format!("the page says {wanted:?}"),
        &format!(
            "return document.body.textContent.includes({});",
            json!(wanted)
        ),
    )
    .await;
}

async fn settings(app: &TestApp) -> Value {
    let (status, settings) = parts(app.get("/api/v1/settings").await).await;
    assert_eq!(status, 200);
    settings
}

#[actix_web::test]
async fn an_owner_edits_the_settings_after_a_refused_save_and_rotates_a_signing_secret() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let link = invite(&app, "owner@example.com", "owner").await;
    assert_eq!(WebClient::new(&app).accept(&link, PASSWORD).await, 303);
    let b = Browser::start(&driver).await;
    sign_in(&b, &app, "owner@example.com").await;
    b.goto(&format!("{}/app/settings", app.address)).await;
    until_text(&b, "#stripe-key", "not set (saveloops org set-stripe-key)").await;
    assert!(text_of(&b, "#ticket-deliveries")
        .await
        .contains("0 delivered, 0 failing, 0 pending"));
    scan(&b, "the settings").await;

    // A refused save: the API's own messages beside their fields, what was typed kept, and
    // nothing saved.
    let before = settings(&app).await;
    fill(
        &b,
        "#allowed_origins",
        "https://shop.example.com\nnot an origin",
    )
    .await;
    fill(&b, "#offer_cooldown_days", "7").await;
    fill(&b, "#experiment_confidence", "2").await;
    click(&b, "#settings-form button[type=submit]").await;
    b.until(
        "the errors are shown",
        "return !!document.querySelector('#experiment_confidence-error')",
    )
    .await;
    let (status, api) = parts(
        app.patch(
            "/api/v1/settings",
            &json!({"allowed_origins": ["https://shop.example.com", "not an origin"],
                    "offer_cooldown_days": 7, "experiment_confidence": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let origin_message = api["errors"]["allowed_origins.1"][0].as_str().unwrap();
    let confidence_message = api["errors"]["experiment_confidence"][0].as_str().unwrap();
    assert!(
        text_of(&b, "#allowed_origins-error")
            .await
            .contains(origin_message),
        "{origin_message}"
    );
    assert!(
        text_of(&b, "#experiment_confidence-error")
            .await
            .contains(confidence_message),
        "{confidence_message}"
    );
    assert_eq!(
        value_of(&b, "#allowed_origins").await,
        json!("https://shop.example.com\nnot an origin")
    );
    assert_eq!(value_of(&b, "#offer_cooldown_days").await, json!("7"));
    assert_eq!(
        b.run(
            "return document.querySelector('#experiment_confidence').getAttribute('aria-invalid')"
        )
        .await,
        json!("true")
    );
    assert!(body_text(&b).await.contains("Nothing was saved."));
    scan(&b, "the refused settings").await;
    assert_eq!(settings(&app).await, before, "nothing was saved");

    // Corrected: saved, and the API reads it.
    fill(&b, "#allowed_origins", "https://Shop.example.com:443").await;
    fill(&b, "#experiment_confidence", "0.9").await;
    b.run("document.querySelector('#require_subscription_for_changes').click(); return true;")
        .await;
    click(&b, "#settings-form button[type=submit]").await;
    until_body_says(&b, "Settings saved.").await;
    let saved = settings(&app).await;
    assert_eq!(
        saved["allowed_origins"],
        json!(["https://shop.example.com"])
    );
    assert_eq!(saved["offer_cooldown_days"], 7);
    assert_eq!(saved["experiment_confidence"], 0.9);
    assert_eq!(saved["require_subscription_for_changes"], true);
    assert_eq!(
        value_of(&b, "#allowed_origins").await,
        json!("https://shop.example.com")
    );
    scan(&b, "the saved settings").await;

    // A form stripped of its CSRF token: refused, nothing changes.
    b.run("document.querySelector('#settings-form input[name=csrf]').remove(); return true;")
        .await;
    fill(&b, "#offer_cooldown_days", "30").await;
    click(&b, "#settings-form button[type=submit]").await;
    until_body_says(&b, "Form refused").await;
    assert_eq!(settings(&app).await["offer_cooldown_days"], 7);

    // A signing secret: shown once, listed by its id, then revoked.
    b.goto(&format!("{}/app/settings", app.address)).await;
    b.until_loaded().await;
    click(&b, "form[action='/app/settings/signing-secrets'] button").await;
    b.until(
        "the new secret is shown",
        "return !!document.querySelector('#new-signing-secret')",
    )
    .await;
    let secret = text_of(&b, "#new-signing-secret").await;
    let (_, listed) = parts(app.get("/api/v1/signing-secrets").await).await;
    let kid = listed["data"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(listed["data"][0]["active"], true);
    assert!(secret.len() >= 32, "{secret}");
    scan(&b, "the new signing secret").await;
    b.goto(&format!("{}/app/settings", app.address)).await;
    b.until_loaded().await;
    let page = body_text(&b).await;
    assert!(
        page.contains(&kid) && !page.contains(&secret),
        "never shown again"
    );
    click(&b, &format!("button[aria-label='Revoke {kid}']")).await;
    until_body_says(&b, &format!("Revoked {kid}.")).await;
    let (_, listed) = parts(app.get("/api/v1/signing-secrets").await).await;
    assert_eq!(listed["data"][0]["active"], false, "{listed}");

    // The Stripe key: stored, never shown.
    let key = "sk_test_dashboard_never_shown_0123456789";
    app.set_stripe_key(key).await;
    b.goto(&format!("{}/app/settings", app.address)).await;
    until_text(&b, "#stripe-key", "stored (never shown)").await;
    assert!(!b.client.source().await.unwrap().contains(key));
    b.close().await;
}

#[actix_web::test]
async fn an_owner_changes_a_role_removes_a_member_keeps_the_last_owner_and_resets_a_password() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let app = TestApp::spawn().await;
    let link = invite(&app, "olga@example.com", "owner").await;
    assert_eq!(WebClient::new(&app).accept(&link, PASSWORD).await, 303);
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let mut rita = WebClient::member(&app, "rita@example.com", "support").await;
    let b = Browser::start(&driver).await;
    sign_in(&b, &app, "olga@example.com").await;
    click(&b, "nav a[href='/app/members']").await;
    b.until_path("/app/members").await;
    scan(&b, "the members").await;

    // The last active owner cannot step down.
    click(&b, "button[aria-label='Make support: olga@example.com']").await;
    until_body_says(&b, "last active owner: make another member an owner first.").await;
    scan(&b, "the refused change").await;

    // Sam becomes an owner.
    click(&b, "button[aria-label='Make owner: sam@example.com']").await;
    until_body_says(&b, "sam@example.com is now owner.").await;
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    let sam_row = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "sam@example.com")
        .unwrap();
    assert_eq!(sam_row["role"], "owner");
    assert_eq!(
        sam.get("/app/settings").await.0,
        200,
        "the owners' pages are Sam's"
    );

    // Sam removed: his next page load goes to sign-in.
    click(&b, "a[aria-label='Remove sam@example.com']").await;
    until_body_says(&b, "They are signed out at once").await;
    scan(&b, "the removal's confirmation").await;
    assert_eq!(
        sam.get("/app").await.0,
        200,
        "nobody removed before the confirmation"
    );
    click(&b, "main form button[type=submit]").await;
    until_body_says(&b, "Removed sam@example.com; their sessions have ended.").await;
    let (status, location, _) = sam.get("/app").await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));
    assert!(!text_of(&b, "#members").await.contains("sam@example.com"));

    // A new password link for Rita: shown once; her session and old password end.
    click(
        &b,
        "button[aria-label='New password link for rita@example.com']",
    )
    .await;
    b.until(
        "the link is shown",
        "return !!document.querySelector('#invite-link')",
    )
    .await;
    let reset = text_of(&b, "#invite-link").await;
    scan(&b, "the new password link").await;
    assert_eq!(rita.get("/app/tickets").await.0, 303, "signed out");
    let mut fresh = WebClient::new(&app);
    assert_eq!(fresh.sign_in("rita@example.com", PASSWORD).await.0, 401);
    assert_eq!(fresh.accept(&reset, "rita's new password").await, 303);
    assert_eq!(
        fresh.sign_in("rita@example.com", PASSWORD).await.0,
        401,
        "old password"
    );
    assert_eq!(
        fresh
            .sign_in("rita@example.com", "rita's new password")
            .await
            .0,
        303
    );
    b.close().await;
}

#[actix_web::test]
async fn an_operator_creates_a_key_shown_once_and_revokes_it() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let (app, _stripe) = ops_app(|_| {}).await;
    let org = app.organization_id;
    let b = Browser::start(&driver).await;
    b.goto(&format!("{}/ops/sign-in", app.address)).await;
    fill(&b, "#token", ADMIN_TOKEN).await;
    click(&b, "form[action='/ops/sign-in'] button").await;
    b.until_path("/ops").await;
    click(&b, &format!("a[href='/ops/organizations/{org}']")).await;
    b.until_path(&format!("/ops/organizations/{org}")).await;
    scan(&b, "an organization's keys").await;

    click(
        &b,
        &format!("form[action='/ops/organizations/{org}/keys'] button"),
    )
    .await;
    b.until(
        "the key is shown",
        "return !!document.querySelector('#new-api-key')",
    )
    .await;
    let key = text_of(&b, "#new-api-key").await;
    let prefix = text_of(&b, ".notice code").await;
    assert!(key.starts_with(&prefix), "{prefix} of {key}");
    scan(&b, "the new key").await;
    assert_eq!(app.get_as(&key, "/api/v1/settings").await.status(), 200);

    // Listed by its prefix, never shown again.
    b.goto(&format!("{}/ops/organizations/{org}", app.address))
        .await;
    b.until_loaded().await;
    let page = b.client.source().await.unwrap();
    assert!(page.contains(&prefix) && !page.contains(&key));

    // Revoking without the CSRF token is refused: the key still works.
    let revoke = format!("form[action='/ops/organizations/{org}/keys/{prefix}/revoke']");
    b.run(&format!(
        "document.querySelector(\"{revoke} input[name=csrf]\").remove(); return true;"
    ))
    .await;
    click(&b, &format!("{revoke} button")).await;
    until_body_says(&b, "Form refused").await;
    assert_eq!(app.get_as(&key, "/api/v1/settings").await.status(), 200);

    // Revoked: the API refuses it at once.
    b.goto(&format!("{}/ops/organizations/{org}", app.address))
        .await;
    b.until_loaded().await;
    click(&b, &format!("{revoke} button")).await;
    b.until(
        "the key is revoked",
        &format!("return !document.querySelector(\"{revoke}\") && document.body.textContent.includes('revoked')"),
    )
    .await;
    assert_eq!(app.get_as(&key, "/api/v1/settings").await.status(), 401);
    assert_eq!(
        app.get("/api/v1/settings").await.status(),
        200,
        "the other key works"
    );
    scan(&b, "the revoked key").await;
    b.close().await;
}

/// Over HTTP: the settings form is the owners' and carries its CSRF token; an owner who
/// removes themselves (another owner remaining) is signed out with it.
#[actix_web::test]
async fn the_settings_form_is_refused_to_support_and_without_csrf_and_self_removal_signs_out() {
    let app = TestApp::spawn().await;
    let mut olga = WebClient::member(&app, "olga@example.com", "owner").await;
    let mut otto = WebClient::member(&app, "otto@example.com", "owner").await;
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let (_, _, tickets) = sam.get("/app/tickets").await;
    let sam_csrf = crate::dashboard_support::csrf_of(&tickets);
    let change = |csrf: &str| {
        crate::dashboard_support::form(&[("csrf", csrf), ("offer_cooldown_days", "9")])
    };
    let (status, _, _) = sam.post("/app/settings", change(&sam_csrf)).await;
    assert_eq!(status, 403, "support staff");
    let (status, _, _) = olga.post("/app/settings", change("forged")).await;
    assert_eq!(status, 403, "no CSRF token");
    assert_eq!(settings(&app).await["offer_cooldown_days"], Value::Null);
    let (_, _, page) = olga.get("/app/settings").await;
    let olga_csrf = crate::dashboard_support::csrf_of(&page);
    let (status, _, _) = olga.post("/app/settings", change(&olga_csrf)).await;
    assert_eq!(status, 200);
    assert_eq!(settings(&app).await["offer_cooldown_days"], 9);

    let (_, list) = parts(app.get("/api/v1/members").await).await;
    let olga_id = list["data"][0]["id"].as_i64().unwrap();
    let (status, location, _) = olga
        .post(
            &format!("/app/members/{olga_id}/remove"),
            crate::dashboard_support::form(&[("csrf", &olga_csrf)]),
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));
    assert_eq!(olga.get("/app").await.0, 303, "signed out");
    assert_eq!(
        otto.get("/app/members").await.0,
        200,
        "the other owner remains"
    );
}

/// The ticket webhook on the settings page: its URL and format, how the latest tickets'
/// deliveries stand, never its secret.
#[actix_web::test]
async fn the_settings_page_shows_the_ticket_webhook_and_its_deliveries_but_not_its_secret() {
    let app = TestApp::spawn().await;
    let secrets = saveloops::store::secrets::SecretBox::load(&app.settings.security).unwrap();
    let url = "http://127.0.0.1:9/tickets";
    let secret = saveloops::store::tenants::set_ticket_webhook(
        &app.db,
        &secrets,
        app.organization_id,
        url,
        "slack",
    )
    .await
    .unwrap();
    for email in ["a@example.com", "b@example.com"] {
        let (status, answer) = parts(
            app.post(
                "/api/v1/intercept/sentiment",
                &json!({"reason": "You lost all of our data in the last update, this is a disaster",
                        "user_email": email}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(answer["create_support_ticket"], true, "{answer}");
    }
    let mut owner = WebClient::member(&app, "olga@example.com", "owner").await;
    let (status, _, page) = owner.get("/app/settings").await;
    assert_eq!(status, 200);
    assert!(page.contains(url) && page.contains("slack"), "{page}");
    assert!(
        page.contains("0 delivered, 0 failing, 2 pending"),
        "no worker ran: both wait"
    );
    assert!(!page.contains(&secret), "never the webhook's secret");
}

#[actix_web::test]
async fn an_owner_sets_the_ticket_webhook_and_a_refused_one_changes_nothing() {
    use crate::dashboard_support::{csrf_of, form};
    use sea_orm::EntityTrait;
    let app = TestApp::spawn().await;
    let mut owner = WebClient::member(&app, "tess@example.com", "owner").await;
    let (_, _, page) = owner.get("/app/settings").await;
    let csrf = csrf_of(&page);
    // Not a web URL, and no such format: both said beside their fields, nothing stored.
    let (status, _, page) = owner
        .post(
            "/app/settings/ticket-webhook",
            form(&[
                ("csrf", &csrf),
                ("url", "ftp://tickets.example.com"),
                ("format", "xml"),
            ]),
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("The url field must be an http(s) URL"),
        "{page}"
    );
    assert!(page.contains("The selected format is invalid"), "{page}");
    assert!(page.contains("ftp://tickets.example.com"), "kept as typed");
    let stored = entity::organization::Entity::find_by_id(app.organization_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.ticket_webhook_url, None);
    // Without the form's token: refused, nothing stored.
    let (status, _, _) = owner
        .post(
            "/app/settings/ticket-webhook",
            form(&[
                ("url", "https://tickets.example.com/in"),
                ("format", "json"),
            ]),
        )
        .await;
    assert_eq!(status, 403);
    // A support member may not.
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let (_, _, tickets) = sam.get("/app/tickets").await;
    let (status, _, _) = sam
        .post(
            "/app/settings/ticket-webhook",
            form(&[
                ("csrf", &csrf_of(&tickets)),
                ("url", "https://tickets.example.com/in"),
                ("format", "json"),
            ]),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        entity::organization::Entity::find_by_id(app.organization_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .ticket_webhook_url,
        None
    );
    // Saved: the secret shown once, the URL and format then shown, never the secret again.
    let (status, _, page) = owner
        .post(
            "/app/settings/ticket-webhook",
            form(&[
                ("csrf", &csrf),
                ("url", " https://tickets.example.com/in "),
                ("format", "slack"),
            ]),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let secret = page
        .split("id=\"new-ticket-webhook-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{page}");
    let stored = entity::organization::Entity::find_by_id(app.organization_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            stored.ticket_webhook_url.as_deref(),
            stored.ticket_webhook_format.as_deref()
        ),
        (Some("https://tickets.example.com/in"), Some("slack"))
    );
    let (_, _, page) = owner.get("/app/settings").await;
    assert!(page.contains("https://tickets.example.com/in"), "{page}");
    assert!(!page.contains(&secret), "shown only once");
}

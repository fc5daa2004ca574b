//! `POST /api/v1/intercept/update-card`: a Stripe billing-portal session at its card-update
//! flow, for a backend (key) or for a session's own customer, sending a browser back only to
//! the organization's own pages.
use serde_json::json;

use crate::fake_stripe::Fault;
use crate::helpers::{assert_invalid, parts, TestApp};

const PATH: &str = "/api/v1/intercept/update-card";

async fn session(app: &TestApp, claims: serde_json::Value) -> String {
    let (status, _) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
    assert!(status == 201 || status == 422);
    let (status, body) = parts(app.post("/api/v1/sessions", &claims).await).await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn post_bearer(app: &TestApp, token: &str, body: serde_json::Value) -> reqwest::Response {
    app.client
        .post(format!("{}{PATH}", app.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_backend_opens_the_card_update_page_for_a_customer() {
    let (app, stripe) = TestApp::with_stripe().await;
    let (status, body) = parts(
        app.post(
            PATH,
            &json!({"stripe_customer_id": "cus_1", "return_url": "https://app.example.com/account"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/p/session/bps_", stripe.base_url())),
        "{url}"
    );
    let sent = stripe.requests_to("POST", "/v1/billing_portal/sessions");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("customer"), Some("cus_1"));
    assert_eq!(
        sent[0].param("flow_data[type]"),
        Some("payment_method_update")
    );
    assert_eq!(
        sent[0].param("return_url"),
        Some("https://app.example.com/account")
    );
    assert!(sent[0].header("idempotency-key").is_some());

    // The rules, each a 422 that sends nothing to Stripe.
    assert_invalid(
        app.post(PATH, &json!({})).await,
        "stripe_customer_id",
        "The stripe customer id field is required.",
    )
    .await;
    for url in [
        "javascript:alert(1)",
        "http://app.example.com/",
        "/account",
        "https://a b/",
    ] {
        let (status, body) = parts(
            app.post(
                PATH,
                &json!({"stripe_customer_id": "cus_1", "return_url": url}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(body["errors"]["return_url"].is_array(), "{body}");
    }
    assert_eq!(
        stripe
            .requests_to("POST", "/v1/billing_portal/sessions")
            .len(),
        1
    );

    // Stripe's refusal (an unknown customer) and its outage are 422s with Stripe's reason.
    let (status, body) = parts(
        app.post(PATH, &json!({"stripe_customer_id": "cus_nobody"}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("card update page"),
        "{body}"
    );
    stripe.fail_next(1, Fault::Status(500));
    let (status, _) = parts(
        app.post(PATH, &json!({"stripe_customer_id": "cus_1"}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
}

#[actix_web::test]
async fn a_session_opens_it_only_for_its_own_customer_and_own_pages() {
    let (app, stripe) = TestApp::with_stripe().await;
    let (status, _) = parts(
        app.patch_settings(json!({"allowed_origins": ["https://app.example.com"]}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let token = session(
        &app,
        json!({"user_email": "ann@example.com", "stripe_customer_id": "cus_1"}),
    )
    .await;
    let (status, body) = parts(
        post_bearer(
            &app,
            &token,
            json!({"return_url": "https://app.example.com/billing"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        stripe.requests_to("POST", "/v1/billing_portal/sessions")[0].param("customer"),
        Some("cus_1")
    );
    // Another customer, or a page elsewhere: refused, nothing sent.
    let (status, _) =
        parts(post_bearer(&app, &token, json!({"stripe_customer_id": "cus_2"})).await).await;
    assert_eq!(status, 403);
    let (status, body) = parts(
        post_bearer(
            &app,
            &token,
            json!({"return_url": "https://evil.example.net/"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["errors"]["return_url"][0],
        "The return url field must be on one of the organization's allowed origins."
    );
    // A session that names no customer cannot open one.
    let email_only = session(&app, json!({"user_email": "bob@example.com"})).await;
    let (status, body) = parts(post_bearer(&app, &email_only, json!({})).await).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        stripe
            .requests_to("POST", "/v1/billing_portal/sessions")
            .len(),
        1
    );
}

#[actix_web::test]
async fn without_a_stripe_key_there_is_no_page_to_open() {
    let app = TestApp::spawn().await;
    let (status, body) = parts(
        app.post(PATH, &json!({"stripe_customer_id": "cus_1"}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("not configured"));
}

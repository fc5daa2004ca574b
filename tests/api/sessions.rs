//! End-user sessions: signing secrets, tokens signed with an ordinary JWT library, identity
//! from the token, offers only as shown, one application per session, and every refusal
//! changing nothing.
use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Response;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::helpers::{parts, TestApp};

struct Secret {
    kid: String,
    secret: String,
}

async fn signing_secret(app: &TestApp) -> Secret {
    let (status, body) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
    assert_eq!(status, 201, "{body}");
    Secret {
        kid: body["kid"].as_str().unwrap().to_owned(),
        secret: body["secret"].as_str().unwrap().to_owned(),
    }
}

/// Signs as a company's backend would, with the usual JWT library.
fn sign(secret: &Secret, claims: Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(secret.kid.clone());
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.secret.as_bytes()),
    )
    .unwrap()
}

fn in_an_hour() -> i64 {
    Utc::now().timestamp() + 3600
}

async fn post_with_token(app: &TestApp, token: &str, path: &str, body: &Value) -> Response {
    app.client
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn impressions(app: &TestApp) -> u64 {
    entity::impression::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

async fn outcomes(app: &TestApp) -> u64 {
    entity::outcome::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_session_runs_the_cancel_flow_as_its_end_user() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let secret = signing_secret(&app).await;
    let token = sign(
        &secret,
        json!({"exp": in_an_hour(), "user_email": "ann@example.com", "mrr_value": 49}),
    );
    let (status, body) = parts(
        post_with_token(
            &app,
            &token,
            "/api/v1/intercept",
            &json!({"target_id": "cancel"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["offers"][0]["id"], offer);
    let (status, body) = parts(
        post_with_token(
            &app,
            &token,
            "/api/v1/intercept/outcome",
            &json!({"offer_id": offer, "status": "saved"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Recorded for the token's end user: the organization's analytics see the save.
    let (_, summary) = parts(app.get("/api/v1/analytics/summary").await).await;
    assert_eq!(summary["saves"], 1, "{summary}");
    assert_eq!(summary["saved_mrr"], 49, "the token's MRR: {summary}");
}

#[actix_web::test]
async fn a_body_that_names_someone_else_is_refused_and_records_nothing() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let secret = signing_secret(&app).await;
    let token = sign(
        &secret,
        json!({"exp": in_an_hour(), "user_email": "ann@example.com", "stripe_subscription_id": "sub_1", "mrr_value": 49}),
    );
    for body in [
        json!({"target_id": "cancel", "user_email": "bob@example.com"}),
        json!({"target_id": "cancel", "stripe_subscription_id": "sub_2"}),
        json!({"target_id": "cancel", "mrr_value": 1}),
        json!({"target_id": "cancel", "stripe_customer_id": "cus_other"}),
    ] {
        let (status, answer) =
            parts(post_with_token(&app, &token, "/api/v1/intercept", &body).await).await;
        assert_eq!(status, 403, "{body} → {answer}");
        assert!(answer["message"]
            .as_str()
            .unwrap()
            .contains("does not match the session"));
    }
    assert_eq!(impressions(&app).await, 0);
    // The same values are accepted.
    let same = json!({"target_id": "cancel", "user_email": "ann@example.com", "mrr_value": 49.0});
    let response = post_with_token(&app, &token, "/api/v1/intercept", &same).await;
    assert_eq!(response.status(), 200);
    // An offer the session was not shown cannot be recorded.
    let other = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause", "target_id": "elsewhere"}))
        .await;
    let (status, _) = parts(
        post_with_token(
            &app,
            &token,
            "/api/v1/intercept/outcome",
            &json!({"offer_id": other, "status": "saved"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(outcomes(&app).await, 0);
    let shown = post_with_token(
        &app,
        &token,
        "/api/v1/intercept/outcome",
        &json!({"offer_id": offer, "status": "saved"}),
    )
    .await;
    assert_eq!(shown.status(), 200);
}

#[actix_web::test]
async fn refused_tokens_are_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.discount_offer().await;
    let secret = signing_secret(&app).await;
    let now = Utc::now().timestamp();
    let forged = Secret {
        kid: secret.kid.clone(),
        secret: "not-the-secret".into(),
    };
    let unknown = Secret {
        kid: "sks_0000000000000000".into(),
        secret: secret.secret.clone(),
    };
    let none = {
        use base64::Engine;
        let b64 = |v: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "kid": secret.kid})),
            b64(json!({"exp": now + 600, "user_email": "ann@example.com"}))
        )
    };
    let hs512 = {
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some(secret.kid.clone());
        encode(
            &header,
            &json!({"exp": now + 600, "user_email": "ann@example.com"}),
            &EncodingKey::from_secret(secret.secret.as_bytes()),
        )
        .unwrap()
    };
    let cases = [
        (
            "forged",
            sign(
                &forged,
                json!({"exp": now + 600, "user_email": "ann@example.com"}),
            ),
        ),
        (
            "unknown kid",
            sign(
                &unknown,
                json!({"exp": now + 600, "user_email": "ann@example.com"}),
            ),
        ),
        (
            "expired",
            sign(
                &secret,
                json!({"exp": now - 5, "user_email": "ann@example.com"}),
            ),
        ),
        (
            "over 24 hours",
            sign(
                &secret,
                json!({"exp": now + 90_000, "user_email": "ann@example.com"}),
            ),
        ),
        ("no end user", sign(&secret, json!({"exp": now + 600}))),
        ("alg none", none),
        ("HS512", hs512),
        ("malformed", "abc.def".to_owned()),
    ];
    for (what, token) in cases {
        let response = post_with_token(
            &app,
            &token,
            "/api/v1/intercept",
            &json!({"target_id": "cancel"}),
        )
        .await;
        let status = response.status().as_u16();
        let challenge = response.headers().get("www-authenticate").cloned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 401, "{what}: {body}");
        assert!(challenge.is_some(), "{what}: a Bearer challenge");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("The session token"),
            "{what}: {body}"
        );
    }
    assert_eq!(impressions(&app).await, 0);

    // Revoked: tokens it signed stop working at once (this instance).
    let token = sign(
        &secret,
        json!({"exp": now + 600, "user_email": "ann@example.com"}),
    );
    let ok = post_with_token(
        &app,
        &token,
        "/api/v1/intercept",
        &json!({"target_id": "cancel"}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let revoked = app
        .client
        .delete(format!(
            "{}/api/v1/signing-secrets/{}",
            app.address, secret.kid
        ))
        .header("X-Knot-Key", &app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after = post_with_token(
        &app,
        &token,
        "/api/v1/intercept",
        &json!({"target_id": "cancel"}),
    )
    .await;
    assert_eq!(after.status(), 401);

    // Every other route refuses a session token.
    let fresh = signing_secret(&app).await;
    let token = sign(
        &fresh,
        json!({"exp": now + 600, "user_email": "ann@example.com"}),
    );
    for path in [
        "/api/v1/offers",
        "/api/v1/analytics/summary",
        "/api/v1/tickets",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let dunning = post_with_token(
        &app,
        &token,
        "/api/v1/dunning",
        &json!({"user_email": "ann@example.com"}),
    )
    .await;
    assert_eq!(dunning.status(), 401);
}

#[actix_web::test]
async fn signing_secrets_rotate_two_at_a_time_and_never_show_the_secret_again() {
    let app = TestApp::spawn().await;
    let first = signing_secret(&app).await;
    let second = signing_secret(&app).await;
    let (status, body) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
    assert_eq!(status, 422, "{body}");
    let (_, list) = parts(app.get("/api/v1/signing-secrets").await).await;
    let listed = list["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.get("secret").is_none()));
    assert!(!list.to_string().contains(&first.secret));
    // Both sign valid tokens during the rotation.
    for secret in [&first, &second] {
        let token = sign(
            secret,
            json!({"exp": in_an_hour(), "stripe_customer_id": "cus_9"}),
        );
        let response = post_with_token(
            &app,
            &token,
            "/api/v1/intercept",
            &json!({"target_id": "t"}),
        )
        .await;
        assert_eq!(response.status(), 200);
    }
    // Another organization's key cannot revoke it.
    let (_, other_key) = app.second_organization().await;
    let response = app
        .client
        .delete(format!(
            "{}/api/v1/signing-secrets/{}",
            app.address, first.kid
        ))
        .header("X-Knot-Key", &other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[actix_web::test]
async fn the_service_signs_sessions_for_teams_without_a_jwt_library() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let (status, body) = parts(
        app.post(
            "/api/v1/sessions",
            &json!({"user_email": "ann@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "no signing secret yet: {body}");
    signing_secret(&app).await;
    let (status, body) = parts(
        app.post(
            "/api/v1/sessions",
            &json!({"stripe_customer_id": "cus_1", "expires_in": 600}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap();
    let (status, answer) = parts(
        post_with_token(
            &app,
            token,
            "/api/v1/intercept",
            &json!({"target_id": "cancel"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["offers"][0]["id"], offer);
    let (status, _) = parts(
        app.post("/api/v1/sessions", &json!({"expires_in": 100_000}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
}

#[actix_web::test]
async fn a_session_applies_one_shown_offer_to_its_own_subscription() {
    let (app, stripe) = TestApp::with_stripe().await;
    let discount = app.discount_offer().await;
    let pause = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause a month"}))
        .await;
    let secret = signing_secret(&app).await;
    let token = sign(
        &secret,
        json!({"exp": in_an_hour(), "stripe_customer_id": "cus_1", "stripe_subscription_id": "sub_1"}),
    );
    // Not shown yet.
    let early = post_with_token(
        &app,
        &token,
        "/api/v1/intercept/apply-offer",
        &json!({"offer_id": discount}),
    )
    .await;
    assert_eq!(early.status(), 403);
    assert!(stripe.requests_to("POST", "/v1/subscriptions").is_empty());
    let shown = post_with_token(
        &app,
        &token,
        "/api/v1/intercept",
        &json!({"target_id": "cancel"}),
    )
    .await;
    assert_eq!(shown.status(), 200);
    // Another subscription than the token's.
    let foreign = post_with_token(
        &app,
        &token,
        "/api/v1/intercept/apply-offer",
        &json!({"offer_id": discount, "stripe_subscription_id": "sub_2"}),
    )
    .await;
    assert_eq!(foreign.status(), 403);
    let (status, body) = parts(
        post_with_token(
            &app,
            &token,
            "/api/v1/intercept/apply-offer",
            &json!({"offer_id": discount}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A second, different offer is refused; the same token replayed cannot apply again.
    let second = post_with_token(
        &app,
        &token,
        "/api/v1/intercept/apply-offer",
        &json!({"offer_id": pause}),
    )
    .await;
    assert_eq!(second.status(), 403);
    let calls = stripe.requests_to("POST", "/v1/subscriptions").len();
    assert_eq!(calls, 1, "one change reached Stripe");
    // A session without a subscription cannot apply anything.
    let no_sub = sign(
        &secret,
        json!({"exp": in_an_hour(), "stripe_customer_id": "cus_1"}),
    );
    post_with_token(
        &app,
        &no_sub,
        "/api/v1/intercept",
        &json!({"target_id": "cancel"}),
    )
    .await;
    let refused = post_with_token(
        &app,
        &no_sub,
        "/api/v1/intercept/apply-offer",
        &json!({"offer_id": discount}),
    )
    .await;
    assert_eq!(refused.status(), 403);
}

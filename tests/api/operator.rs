//! The operator API: its token, dead jobs (listed with their organization, retried, deleted),
//! organizations and keys.
use reqwest::Method;
use serde_json::{json, Value};

use crate::fake_stripe::Fault;
use crate::helpers::{parts, test_settings, TestApp};
use crate::ops_support::{admin, admin_as, ops_app, ADMIN_TOKEN};

const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/admin/queue"),
    ("GET", "/api/v1/admin/queue/dead"),
    ("POST", "/api/v1/admin/queue/dead/apply_offer:1/retry"),
    ("DELETE", "/api/v1/admin/queue/dead/apply_offer:1"),
    ("GET", "/api/v1/admin/organizations"),
    ("POST", "/api/v1/admin/organizations"),
    ("POST", "/api/v1/admin/organizations/1/keys"),
    ("DELETE", "/api/v1/admin/keys/slk_abcdefghijkl"),
];

fn method(name: &str) -> Method {
    name.parse().unwrap()
}

#[actix_web::test]
async fn without_a_token_configured_the_operator_api_does_not_exist() {
    let app = TestApp::spawn().await;
    for (verb, path) in ADMIN_ROUTES {
        for token in [None, Some(ADMIN_TOKEN), Some(app.key.as_str())] {
            let (status, body) =
                parts(admin_as(&app, token, method(verb), path, Some(json!({"name": "x"}))).await)
                    .await;
            assert_eq!(status, 404, "{verb} {path}: {body}");
        }
        // An organization key in its own header does not open it either.
        let response = app
            .client
            .request(method(verb), format!("{}{path}", app.address))
            .header("X-Knot-Key", &app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
}

#[actix_web::test]
async fn a_missing_or_wrong_token_is_401_and_organization_keys_never_pass() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let almost = format!("{}x", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    for (verb, path) in ADMIN_ROUTES {
        for token in [
            None,
            Some("wrong"),
            Some(almost.as_str()),
            Some(app.key.as_str()),
        ] {
            let response =
                admin_as(&app, token, method(verb), path, Some(json!({"name": "x"}))).await;
            assert_eq!(
                response.headers().get("www-authenticate").unwrap(),
                "Bearer"
            );
            let (status, body) = parts(response).await;
            assert_eq!(
                (status, body["message"].as_str()),
                (401, Some("Unauthenticated.")),
                "{verb} {path} with {token:?}"
            );
        }
    }
    let (status, body) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn a_too_short_operator_token_is_refused_at_start_up() {
    let mut settings = test_settings().await;
    settings.admin.token = "short".into();
    let error = saveloops::startup::Application::build(settings)
        .await
        .err()
        .expect("a short token is refused");
    assert!(error.to_string().contains("admin.token"), "{error}");
}

/// Applies an offer while Stripe fails until its job is dead; returns the application id.
pub async fn dead_application(app: &TestApp, offer: i64, subscription: &str) -> i64 {
    let (status, body) = parts(
        app.apply_offer(
            json!({"offer_id": offer, "stripe_subscription_id": subscription,
                               "user_email": "u@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["application_id"].as_i64().unwrap();
    app.drive_until(&app.workers(), id, "dead").await;
    id
}

#[actix_web::test]
async fn dead_jobs_are_listed_with_their_organization_retried_and_deleted_over_http() {
    let (app, stripe) = ops_app(|s| s.queue.retry.max_attempts = 1).await;
    stripe.add_subscription("sub_2", "cus_2", "si_2", "price_pro", None);
    let offer = app.discount_offer().await;
    stripe.fail_always_on("POST", "/v1/subscriptions", Fault::Status(503));
    let first = dead_application(&app, offer, "sub_1").await;
    let second = dead_application(&app, offer, "sub_2").await;

    let (status, page) = admin(&app, Method::GET, "/api/v1/admin/queue/dead", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["total"].as_u64(), page["page"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(page["per_page"], 50);
    let jobs = page["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert_eq!(job["organization_id"], app.organization_id, "{job}");
        assert_eq!(job["kind"], "apply_offer");
        assert_eq!(job["attempts"], 1);
        assert!(job["last_error"].as_str().unwrap().contains("503"), "{job}");
        assert!(job["died_at"].is_string());
    }
    // Paging: one per page, most recently died first.
    let (_, one) = admin(
        &app,
        Method::GET,
        "/api/v1/admin/queue/dead?page=2&per_page=1",
        None,
    )
    .await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["id"], format!("apply_offer:{first}"));
    let (status, body) = admin(
        &app,
        Method::GET,
        "/api/v1/admin/queue/dead?per_page=0&page=x",
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"]["per_page"][0],
        "The per page field must be at least 1."
    );
    assert_eq!(
        body["errors"]["page"][0],
        "The page field must be an integer."
    );

    // Retry the first over HTTP: the ledger is back to retrying and, Stripe healed, it lands.
    stripe.heal();
    let (status, body) = admin(
        &app,
        Method::POST,
        &format!("/api/v1/admin/queue/dead/apply_offer:{first}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], format!("apply_offer:{first}"));
    assert_eq!(app.application(first).await["status"], "retrying");
    let applied = app.drive_until(&app.workers(), first, "applied").await;
    assert_eq!(applied["status"], "applied");
    assert_eq!(stripe.applied_updates("sub_1"), 1);

    // Delete the second: gone from the queue, its application failed with a note.
    let path = format!("/api/v1/admin/queue/dead/apply_offer:{second}");
    let (status, body) = admin(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{body}");
    let application = app.application(second).await;
    assert_eq!(application["status"], "failed");
    let note = application["last_error"].as_str().unwrap();
    assert!(
        note.contains("Discarded by an operator") && note.contains("503"),
        "{note}"
    );
    // A job that is no longer dead is neither retried nor deleted again.
    let (status, _) = admin(&app, Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    let (status, body) = admin(&app, Method::POST, &format!("{path}/retry"), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(stripe.applied_updates("sub_2"), 0);

    let (_, page) = admin(&app, Method::GET, "/api/v1/admin/queue/dead", None).await;
    assert_eq!(page["total"], 0);
    assert_eq!(page["data"], json!([]));
    let (_, stats) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(stats["total"]["dead"], 0, "{stats}");
    assert_eq!(stats["total"]["ready"], 0);
}

#[actix_web::test]
async fn organizations_and_keys_are_managed_over_http() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let (status, created) = admin(
        &app,
        Method::POST,
        "/api/v1/admin/organizations",
        Some(json!({"name": "  Initech  "})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "Initech");
    let org = created["id"].as_i64().unwrap();
    let first_key = created["api_key"].as_str().unwrap().to_owned();
    assert!(first_key.starts_with(created["key_prefix"].as_str().unwrap()));
    let (status, offers) = parts(app.get_as(&first_key, "/api/v1/offers").await).await;
    assert_eq!((status, offers), (200, json!({"data": []})));

    let (status, body) = admin(
        &app,
        Method::POST,
        "/api/v1/admin/organizations",
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"]["name"][0], "The name field is required.");
    let (status, _) = admin(
        &app,
        Method::POST,
        "/api/v1/admin/organizations",
        Some(json!({"name": "x".repeat(256)})),
    )
    .await;
    assert_eq!(status, 422);

    let (status, key) = admin(
        &app,
        Method::POST,
        &format!("/api/v1/admin/organizations/{org}/keys"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["organization_id"], org);
    let second_key = key["api_key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_as(&second_key, "/api/v1/offers").await.status(),
        200
    );
    for missing in [
        "/api/v1/admin/organizations/999999/keys",
        "/api/v1/admin/organizations/abc/keys",
    ] {
        let (status, _) = admin(&app, Method::POST, missing, None).await;
        assert_eq!(status, 404);
    }

    let (status, page) = admin(&app, Method::GET, "/api/v1/admin/organizations", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2, "{page}");
    let listed: Vec<&Value> = page["data"].as_array().unwrap().iter().collect();
    assert_eq!(listed[0]["id"], app.organization_id);
    assert_eq!(listed[0]["stripe_configured"], true);
    assert_eq!(listed[1]["id"], org);
    assert_eq!(listed[1]["active_keys"], 2);
    assert_eq!(listed[1]["stripe_configured"], false);
    assert!(!page.to_string().contains("slk_"), "keys are never listed");

    // Revoking works at once, although the key was just cached by a successful request.
    let prefix = key["key_prefix"].as_str().unwrap();
    let (status, body) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/keys/{prefix}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], prefix);
    let (status, body) = parts(app.get_as(&second_key, "/api/v1/offers").await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Invalid API key."))
    );
    assert_eq!(app.get_as(&first_key, "/api/v1/offers").await.status(), 200);
    let (status, _) = admin(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/keys/{prefix}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "already revoked");
    let (_, page) = admin(
        &app,
        Method::GET,
        "/api/v1/admin/organizations?per_page=1&page=2",
        None,
    )
    .await;
    assert_eq!(page["data"][0]["active_keys"], 1);
}

//! The OpenAPI description: every served route is in it (read from the one route table),
//! nothing else is, and real answers of every route validate against its response schemas.
use std::collections::BTreeSet;

use reqwest::Method;
use saveloops::http::routes::ROUTES;
use sea_orm::EntityTrait;
use serde_json::{json, Value};

use crate::fake_stripe::Fault;
use crate::helpers::{parts, TestApp};
use crate::ops_support::{ops_app, ADMIN_TOKEN};

async fn description(app: &TestApp) -> Value {
    // No key needed: clients generate code from it.
    let response = app
        .client
        .get(format!("{}/api/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    let (status, doc) = parts(response).await;
    assert_eq!(status, 200);
    doc
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not described");
    op
}

#[actix_web::test]
async fn every_route_is_described_and_nothing_else() {
    let (app, _stripe) = ops_app(|_| {}).await;
    let doc = description(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");

    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(served.len(), ROUTES.len(), "a route is declared twice");
    let mut described = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            described.insert((method.clone(), path.clone()));
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(operation_ids.insert(id.clone()), "operationId {id} twice");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        }
    }
    assert_eq!(
        served, described,
        "served routes and described routes differ"
    );

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["api_key"],
        json!({"type": "apiKey", "in": "header", "name": "X-Knot-Key",
               "description": "The organization's API key (`slk_…`)."})
    );
    assert_eq!(schemes["admin_bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"], json!([{"api_key": []}]));

    for route in ROUTES {
        let op = operation(&doc, route.method, route.path);
        let responses = op["responses"].as_object().unwrap();
        let security = op["security"].to_string();
        if route.path.starts_with("/api/v1/admin/") {
            assert_eq!(
                op["security"],
                json!([{"admin_bearer": []}]),
                "{}",
                route.path
            );
            for status in ["401", "404"] {
                assert!(
                    responses.contains_key(status),
                    "{} lacks {status}",
                    route.path
                );
            }
        } else if security.contains("api_key") {
            for status in ["401", "429"] {
                assert!(
                    responses.contains_key(status),
                    "{} lacks {status}",
                    route.path
                );
            }
            assert!(
                responses["429"]["headers"]["Retry-After"].is_object(),
                "{}",
                route.path
            );
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{} lacks {status}",
                    route.path
                );
            }
        }
    }
    // The error shapes are components.
    for schema in ["Message", "Unprocessable", "RateLimited"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[derive(Clone, Copy)]
enum Auth {
    Key,
    Admin,
    Nobody,
}

enum Body {
    Empty,
    Json(Value),
    Raw(&'static str, String),
    /// A JSON body with its `Stripe-Signature` header.
    Signed(String, String),
}

/// Sends requests and checks each answer against the description.
struct Conformance<'a> {
    app: &'a TestApp,
    doc: Value,
    covered: BTreeSet<(String, String)>,
}

impl Conformance<'_> {
    /// Sends `method path` (an instance of the route `route`) and checks that the status is
    /// documented and the body validates against its schema.
    async fn check(
        &mut self,
        method: &str,
        route: &str,
        path: &str,
        auth: Auth,
        body: Body,
    ) -> (u16, Value) {
        let mut request = self.app.client.request(
            method.to_uppercase().parse::<Method>().unwrap(),
            format!("{}{path}", self.app.address),
        );
        request = match auth {
            Auth::Key => request.header("X-Knot-Key", &self.app.key),
            Auth::Admin => request.bearer_auth(ADMIN_TOKEN),
            Auth::Nobody => request,
        };
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Raw(content_type, text) => {
                request.header("Content-Type", content_type).body(text)
            }
            Body::Signed(signature, text) => request
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", signature)
                .body(text),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let op = operation(&self.doc, method, route);
        let documented = &op["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which its description does not list: {text}"
        );
        self.covered.insert((method.to_owned(), route.to_owned()));
        let Some((media, content)) = documented["content"]
            .as_object()
            .and_then(|c| c.iter().next())
        else {
            return (status, Value::Null);
        };
        assert!(
            content_type.starts_with(media.as_str()),
            "{method} {path}: {content_type} is not {media}"
        );
        if media != "application/json" {
            return (status, Value::Null);
        }
        let body: Value = serde_json::from_str(&text).unwrap();
        let mut schema = content["schema"].clone();
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{method} {route} {status}: bad schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} breaks its schema: {errors:?}\nbody: {body}"
        );
        (status, body)
    }
}

#[actix_web::test]
async fn answers_of_every_route_validate_against_the_description() {
    let (app, stripe) = ops_app(|s| s.queue.retry.max_attempts = 1).await;
    let doc = description(&app).await;
    let mut c = Conformance {
        app: &app,
        doc,
        covered: BTreeSet::new(),
    };
    use Auth::*;

    // Operations.
    c.check("get", "/health", "/health", Nobody, Body::Empty)
        .await;
    c.check("get", "/ready", "/ready", Nobody, Body::Empty)
        .await;
    c.check("get", "/metrics", "/metrics", Nobody, Body::Empty)
        .await;
    c.check(
        "get",
        "/api/v1/openapi.json",
        "/api/v1/openapi.json",
        Nobody,
        Body::Empty,
    )
    .await;

    // Offers.
    let route = "/api/v1/offers";
    let (status, offer) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"type": "discount", "value": 20,
            "label": "20% off", "target_id": "cancel-btn", "triggers": ["click"], "min_mrr": 1.5,
            "config": {"duration": "repeating", "duration_in_months": 3}, "priority": 3})),
        )
        .await;
    assert_eq!(status, 201);
    let offer_id = offer["id"].as_i64().unwrap();
    let (status, _) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"type": "nope"})),
        )
        .await;
    assert_eq!(status, 422);
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Raw("application/json", "{oops".into()),
    )
    .await;
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Raw("text/plain", "{}".into()),
    )
    .await;
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Raw(
            "application/json",
            format!("{{\"label\":\"{}\"}}", "a".repeat(70_000)),
        ),
    )
    .await;
    c.check("post", route, route, Nobody, Body::Json(json!({})))
        .await;
    c.check("get", route, route, Key, Body::Empty).await;
    let one = "/api/v1/offers/{id}";
    let path = format!("/api/v1/offers/{offer_id}");
    c.check("get", one, &path, Key, Body::Empty).await;
    c.check("get", one, "/api/v1/offers/999999", Key, Body::Empty)
        .await;
    let (status, _) = c
        .check(
            "patch",
            one,
            &path,
            Key,
            Body::Json(json!({"label": "Stay", "min_mrr": null})),
        )
        .await;
    assert_eq!(status, 200);
    c.check("patch", one, &path, Key, Body::Json(json!({"value": 500})))
        .await;
    let contact = app
        .offer(json!({"type": "contact", "value": 0, "label": "Call us",
                      "config": {"url": "https://cal.example.com"}}))
        .await;
    let (status, _) = c
        .check(
            "delete",
            one,
            &format!("/api/v1/offers/{contact}"),
            Key,
            Body::Empty,
        )
        .await;
    assert_eq!(status, 200);

    // Experiments and settings.
    let pause = app
        .offer(json!({"type": "pause", "value": 1, "label": "Pause", "active": false}))
        .await;
    let route = "/api/v1/experiments";
    let (status, experiment) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"name": "Discount or pause", "target_id": "cancel-btn",
                "arms": [{"name": "control", "offer_ids": [offer_id], "weight": 50, "control": true},
                         {"name": "pause", "offer_ids": [pause], "weight": 50}]})),
        )
        .await;
    assert_eq!(status, 201, "{experiment}");
    let experiment_id = experiment["id"].as_i64().unwrap();
    c.check("post", route, route, Key, Body::Json(json!({"name": "x"})))
        .await;
    c.check("get", route, route, Key, Body::Empty).await;
    let one = "/api/v1/experiments/{id}";
    let path = format!("/api/v1/experiments/{experiment_id}");
    c.check("get", one, &path, Key, Body::Empty).await;
    c.check("get", one, "/api/v1/experiments/999999", Key, Body::Empty)
        .await;
    c.check(
        "patch",
        one,
        &path,
        Key,
        Body::Json(json!({"name": "Renamed"})),
    )
    .await;
    c.check(
        "patch",
        one,
        &path,
        Key,
        Body::Json(json!({"status": "nope"})),
    )
    .await;
    let results = "/api/v1/experiments/{id}/results";
    c.check("get", results, &format!("{path}/results"), Key, Body::Empty)
        .await;
    c.check(
        "get",
        results,
        "/api/v1/experiments/999999/results",
        Key,
        Body::Empty,
    )
    .await;
    // The dashboard's members.
    let route = "/api/v1/members";
    let (status, ann) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"email": "ann@example.com", "role": "support"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"email": "ann@example.com", "role": "owner"})),
        )
        .await;
    assert_eq!(status, 422, "the email is taken");
    c.check("post", route, route, Key, Body::Json(json!({"role": 7})))
        .await;
    c.check("get", route, route, Key, Body::Empty).await;
    let one = "/api/v1/members/{id}";
    let ann = format!("/api/v1/members/{}", ann["id"]);
    let (status, _) = c
        .check(
            "patch",
            one,
            &ann,
            Key,
            Body::Json(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(status, 200);
    c.check("patch", one, &ann, Key, Body::Json(json!({"role": 7})))
        .await;
    c.check(
        "patch",
        one,
        "/api/v1/members/999999",
        Key,
        Body::Json(json!({"role": "owner"})),
    )
    .await;
    let reset = "/api/v1/members/{id}/reset";
    let (status, _) = c
        .check("post", reset, &format!("{ann}/reset"), Key, Body::Empty)
        .await;
    assert_eq!(status, 200);
    c.check(
        "post",
        reset,
        "/api/v1/members/999999/reset",
        Key,
        Body::Empty,
    )
    .await;
    let (status, _) = c.check("delete", one, &ann, Key, Body::Empty).await;
    assert_eq!(status, 200);
    let (status, _) = c.check("delete", one, &ann, Key, Body::Empty).await;
    assert_eq!(status, 404);
    let route = "/api/v1/signing-secrets";
    let (status, created) = c.check("post", route, route, Key, Body::Empty).await;
    assert_eq!(status, 201);
    c.check("post", route, route, Key, Body::Empty).await;
    let (status, _) = c.check("post", route, route, Key, Body::Empty).await;
    assert_eq!(status, 422, "two active at most");
    c.check("get", route, route, Key, Body::Empty).await;
    let route = "/api/v1/sessions";
    let (status, _) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"user_email": "s@example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"expires_in": 5})),
    )
    .await;
    let route = "/api/v1/intercept/update-card";
    let (status, _) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"stripe_customer_id": "cus_1"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"stripe_customer_id": "cus_1", "return_url": "nope"})),
        )
        .await;
    assert_eq!(status, 422);
    let route = "/api/v1/signing-secrets/{kid}";
    let revoke = format!(
        "/api/v1/signing-secrets/{}",
        created["kid"].as_str().unwrap()
    );
    let (status, _) = c.check("delete", route, &revoke, Key, Body::Empty).await;
    assert_eq!(status, 200);
    let (status, _) = c.check("delete", route, &revoke, Key, Body::Empty).await;
    assert_eq!(status, 404);
    // Stripe's webhooks: the endpoint, its secrets, and deliveries signed as Stripe signs.
    let route = "/api/v1/stripe/webhook-endpoint";
    let (status, endpoint) = c.check("get", route, route, Key, Body::Empty).await;
    assert_eq!(status, 200);
    let route = "/api/v1/stripe/webhook-secrets";
    let secret = "whsec_openapi0123456789";
    let body = Body::Json(json!({ "secret": secret }));
    let (status, stored) = c.check("post", route, route, Key, body).await;
    assert_eq!(status, 201);
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"secret": "sk_test_1"})),
    )
    .await;
    c.check("get", route, route, Key, Body::Empty).await;
    let hook = "/api/v1/stripe/webhooks/{endpoint_id}";
    let path = endpoint["path"].as_str().unwrap().to_owned();
    let now = app.actors.clock.now().timestamp();
    let signed = |body: &str| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{now}.{body}").as_bytes());
        let header = format!("t={now},v1={}", hex::encode(mac.finalize().into_bytes()));
        Body::Signed(header, body.to_owned())
    };
    let event =
        json!({"id": "evt_openapi", "object": "event", "type": "invoice.paid", "created": now,
                       "data": {"object": {"object": "invoice", "customer": "cus_openapi"}}})
        .to_string();
    let (status, _) = c.check("post", hook, &path, Nobody, signed(&event)).await;
    assert_eq!(status, 200);
    let (status, _) = c.check("post", hook, &path, Nobody, signed("{}")).await;
    assert_eq!(status, 422);
    let (status, _) = c
        .check(
            "post",
            hook,
            &path,
            Nobody,
            Body::Json(json!({"id": "evt_1"})),
        )
        .await;
    assert_eq!(status, 400, "no signature");
    let (status, _) = c
        .check(
            "post",
            hook,
            &path,
            Nobody,
            Body::Raw("text/plain", "{}".into()),
        )
        .await;
    assert_eq!(status, 415);
    let (status, _) = c
        .check(
            "post",
            hook,
            "/api/v1/stripe/webhooks/we_x",
            Nobody,
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let route = "/api/v1/stripe/webhook-secrets/{id}";
    let revoke = format!(
        "/api/v1/stripe/webhook-secrets/{}",
        stored["id"].as_str().unwrap()
    );
    let (status, _) = c.check("delete", route, &revoke, Key, Body::Empty).await;
    assert_eq!(status, 200);
    let (status, _) = c.check("delete", route, &revoke, Key, Body::Empty).await;
    assert_eq!(status, 404);
    let route = "/api/v1/settings";
    c.check("get", route, route, Key, Body::Empty).await;
    c.check(
        "patch",
        route,
        route,
        Key,
        Body::Json(json!({"offer_cooldown_days": 7})),
    )
    .await;
    c.check(
        "patch",
        route,
        route,
        Key,
        Body::Json(json!({"offer_cooldown_days": -1})),
    )
    .await;
    c.check(
        "patch",
        route,
        route,
        Key,
        Body::Json(json!({"offer_cooldown_days": null})),
    )
    .await;
    for origins in [json!(["https://app.example.com"]), json!(null)] {
        c.check(
            "patch",
            route,
            route,
            Key,
            Body::Json(json!({ "allowed_origins": origins })),
        )
        .await;
    }

    // The cancel flow.
    let route = "/api/v1/intercept";
    let (status, answer) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"target_id": "cancel-btn",
            "user_email": "user@example.com", "trigger": "click", "mrr_value": 29})),
        )
        .await;
    assert_eq!(
        (status, answer["offers"].as_array().unwrap().len()),
        (200, 1)
    );
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"user_email": "nope"})),
    )
    .await;
    let route = "/api/v1/intercept/outcome";
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"offer_id": offer_id,
        "status": "saved", "user_email": "user@example.com", "mrr_value": 29})),
    )
    .await;
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"offer_id": 0, "status": "x"})),
    )
    .await;
    let route = "/api/v1/intercept/apply-offer";
    let apply = |sub: &str| json!({"offer_id": offer_id, "stripe_subscription_id": sub});
    let (status, _) = c
        .check("post", route, route, Key, Body::Json(apply("sub_1")))
        .await;
    assert_eq!(status, 200);
    let (status, refused) = c
        .check("post", route, route, Key, Body::Json(apply("sub_missing")))
        .await;
    assert_eq!(status, 422, "{refused}");
    stripe.fail_always_on("POST", "/v1/subscriptions", Fault::Status(503));
    let (status, queued) = c
        .check("post", route, route, Key, Body::Json(apply("sub_1")))
        .await;
    assert_eq!(status, 202);
    let application = queued["application_id"].as_i64().unwrap();
    let route = "/api/v1/intercept/applications/{id}";
    c.check(
        "get",
        route,
        &format!("/api/v1/intercept/applications/{application}"),
        Key,
        Body::Empty,
    )
    .await;
    c.check(
        "get",
        route,
        "/api/v1/intercept/applications/0",
        Key,
        Body::Empty,
    )
    .await;

    // Reasons and support tickets.
    let route = "/api/v1/intercept/sentiment";
    let (status, answer) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(
                json!({"reason": "Everything is broken and support never answers!!!",
                "user_email": "user@example.com", "target_id": "cancel-btn"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let ticket = answer["ticket_id"]
        .as_i64()
        .expect("a support reason opens a ticket");
    c.check("post", route, route, Key, Body::Json(json!({"reason": ""})))
        .await;
    let (status, german) = c
        .check(
            "post",
            route,
            route,
            Key,
            Body::Json(json!({"reason": "Zu teuer für unser kleines Team, wir kündigen"})),
        )
        .await;
    assert_eq!(
        (status, &german["language"]),
        (200, &json!("de")),
        "{german}"
    );
    let route = "/api/v1/tickets";
    c.check("get", route, route, Key, Body::Empty).await;
    c.check(
        "get",
        route,
        &format!("{route}?per_page=0"),
        Key,
        Body::Empty,
    )
    .await;
    let route = "/api/v1/tickets/{id}";
    let path = format!("/api/v1/tickets/{ticket}");
    c.check("get", route, &path, Key, Body::Empty).await;
    c.check("get", route, "/api/v1/tickets/999999", Key, Body::Empty)
        .await;
    let (status, _) = c
        .check(
            "patch",
            route,
            &path,
            Key,
            Body::Json(json!({"status": "pending", "assignee": "sam", "note": null})),
        )
        .await;
    assert_eq!(status, 200);
    c.check(
        "patch",
        route,
        &path,
        Key,
        Body::Json(json!({"status": "lost"})),
    )
    .await;

    // Payment health.
    let route = "/api/v1/dunning";
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"user_email": "user@example.com"})),
    )
    .await;
    c.check("post", route, route, Key, Body::Json(json!({})))
        .await;
    let route = "/api/v1/success-signal";
    c.check(
        "post",
        route,
        route,
        Key,
        Body::Json(json!({"event": "invoice.paid",
        "stripe_customer_id": "cus_1"})),
    )
    .await;

    // Analytics.
    let route = "/api/v1/analytics/summary";
    let (status, summary) = c.check("get", route, route, Key, Body::Empty).await;
    // The client's save of user@example.com, and the anonymous applied offer.
    assert_eq!((status, summary["saves"].as_u64()), (200, Some(2)));
    c.check(
        "get",
        route,
        &format!("{route}?from=2026-01-01&to=2025-01-01"),
        Key,
        Body::Empty,
    )
    .await;

    // The operator API, with a dead job to look at.
    app.drive_until(&app.workers(), application, "dead").await;
    let route = "/api/v1/admin/queue";
    c.check("get", route, route, Admin, Body::Empty).await;
    c.check("get", route, route, Nobody, Body::Empty).await;
    let route = "/api/v1/admin/queue/dead";
    let (_, dead) = c.check("get", route, route, Admin, Body::Empty).await;
    assert_eq!(dead["data"][0]["organization_id"], app.organization_id);
    c.check(
        "get",
        route,
        &format!("{route}?per_page=9999"),
        Admin,
        Body::Empty,
    )
    .await;
    let job = format!("/api/v1/admin/queue/dead/apply_offer:{application}");
    let route = "/api/v1/admin/queue/dead/{id}/retry";
    let (status, _) = c
        .check("post", route, &format!("{job}/retry"), Admin, Body::Empty)
        .await;
    assert_eq!(status, 200);
    app.drive_until(&app.workers(), application, "dead").await;
    c.check(
        "post",
        route,
        "/api/v1/admin/queue/dead/nothing/retry",
        Admin,
        Body::Empty,
    )
    .await;
    let route = "/api/v1/admin/queue/dead/{id}";
    let (status, _) = c.check("delete", route, &job, Admin, Body::Empty).await;
    assert_eq!(status, 200);
    c.check("delete", route, &job, Admin, Body::Empty).await;
    let route = "/api/v1/admin/organizations";
    let (status, org) = c
        .check(
            "post",
            route,
            route,
            Admin,
            Body::Json(json!({"name": "Initech"})),
        )
        .await;
    assert_eq!(status, 201);
    c.check("post", route, route, Admin, Body::Json(json!({"name": 7})))
        .await;
    c.check("get", route, route, Admin, Body::Empty).await;
    let route = "/api/v1/admin/organizations/{id}/keys";
    let (status, key) = c
        .check(
            "post",
            route,
            &format!("/api/v1/admin/organizations/{}/keys", org["id"]),
            Admin,
            Body::Empty,
        )
        .await;
    assert_eq!(status, 201);
    c.check(
        "post",
        route,
        "/api/v1/admin/organizations/424242/keys",
        Admin,
        Body::Empty,
    )
    .await;
    let route = "/api/v1/admin/keys/{prefix}";
    let revoke = format!("/api/v1/admin/keys/{}", key["key_prefix"].as_str().unwrap());
    let (status, _) = c.check("delete", route, &revoke, Admin, Body::Empty).await;
    assert_eq!(status, 200);
    c.check("delete", route, &revoke, Admin, Body::Empty).await;

    // A route added to the table must get a sample here too.
    let all: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = all.difference(&c.covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a checked answer: {missing:?}"
    );
}

/// The request schema of `method path`, with the components it refers to.
fn request_validator(doc: &Value, method: &str, path: &str) -> jsonschema::Validator {
    let mut schema = operation(doc, method, path)["requestBody"]["content"]["application/json"]
        ["schema"]
        .clone();
    schema["components"] = doc["components"].clone();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{method} {path}: bad request schema: {e}"))
}

/// The rules the description states for request bodies are the service's: what it calls
/// valid is accepted, what it calls invalid is refused (422). Strings are trimmed, blank
/// counts as absent (refused where required), NUL is refused, money is rounded past 4
/// decimals, bounds are stated.
#[actix_web::test]
async fn request_rules_of_the_description_are_the_services() {
    let app = TestApp::spawn().await;
    let doc = description(&app).await;
    let offer = app.discount_offer().await;
    let padded = format!(" {} ", "x".repeat(255));
    let cases: Vec<(&str, String, Value, bool)> = vec![
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "  "}),
            false,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "a\u{0}b"}),
            false,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x".repeat(256)}),
            false,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": padded}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": " x ", "user_email": " ", "stripe_customer_id": "", "stripe_subscription_id": "\t"}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "user_email": "nope"}),
            false,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "stripe_customer_id": "c\u{0}"}),
            false,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "mrr_value": 0.00001}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "mrr_value": 29.123456789}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "mrr_value": 1_000_000_000_000_i64}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept".into(),
            json!({"target_id": "x", "mrr_value": 1_000_000_000_001_i64}),
            false,
        ),
        (
            "post",
            "/api/v1/dunning".into(),
            json!({"stripe_customer_id": ""}),
            false,
        ),
        (
            "post",
            "/api/v1/dunning".into(),
            json!({"user_email": " ", "stripe_customer_id": null}),
            false,
        ),
        (
            "post",
            "/api/v1/dunning".into(),
            json!({"user_email": "", "stripe_customer_id": "cus_1"}),
            true,
        ),
        (
            "post",
            "/api/v1/success-signal".into(),
            json!({"event": "", "user_email": "a@example.com"}),
            false,
        ),
        (
            "post",
            "/api/v1/success-signal".into(),
            json!({"event": "login", "user_email": "a@example.com"}),
            true,
        ),
        (
            "post",
            "/api/v1/intercept/sentiment".into(),
            json!({"reason": " "}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"type_cooldown_days": 3651}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"type_cooldown_days": 3650}),
            true,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["HTTPS://App.Example.com:443", "http://localhost:3000", "http://[::1]", "https://10.0.0.7:65535"]}),
            true,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ""}),
            true,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": null}),
            true,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["https://app.example.com/"]}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["http://app.example.com"]}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["https://*.example.com"]}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["https://app.example.com:65536"]}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": ["https://app.example.com "]}),
            false,
        ),
        (
            "patch",
            "/api/v1/settings".into(),
            json!({"allowed_origins": (0..21).map(|n| format!("https://a{n}.example.com")).collect::<Vec<_>>()}),
            false,
        ),
        (
            "patch",
            format!("/api/v1/offers/{offer}"),
            json!({"label": null}),
            false,
        ),
        (
            "patch",
            format!("/api/v1/offers/{offer}"),
            json!({"label": ""}),
            false,
        ),
        (
            "patch",
            format!("/api/v1/offers/{offer}"),
            json!({"target_id": "", "min_mrr": 0.00005}),
            true,
        ),
        (
            "patch",
            format!("/api/v1/offers/{offer}"),
            json!({"priority": 1_000_001}),
            false,
        ),
    ];
    for (method, path, body, valid) in cases {
        let route = if path.starts_with("/api/v1/offers/") {
            "/api/v1/offers/{id}"
        } else {
            path.as_str()
        };
        let described = request_validator(&doc, method, route).is_valid(&body);
        assert_eq!(
            described, valid,
            "the description on {method} {path} {body}"
        );
        let response = if method == "post" {
            app.post(&path, &body).await
        } else {
            app.patch(&path, &body).await
        };
        let status = response.status().as_u16();
        if valid {
            assert!(status < 300, "{method} {path} {body}: {status}");
        } else {
            assert_eq!(status, 422, "{method} {path} {body}");
        }
    }
    // Past 4 decimals, money is rounded half away from zero.
    let (status, _) = parts(
        app.outcome(json!({"offer_id": offer, "status": "saved", "mrr_value": 29.99995}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let outcome = entity::outcome::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.mrr_e4, Some(300_000));

    // A blank query parameter counts as absent, as the description says.
    let page = &operation(&doc, "get", "/api/v1/tickets")["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap()["schema"];
    let validator = jsonschema::draft202012::new(page).unwrap();
    assert!(validator.is_valid(&json!("")) && validator.is_valid(&json!(3)));
    let response = app
        .client
        .get(format!("{}/api/v1/tickets?page=", app.address))
        .header("X-Knot-Key", &app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

//! CORS for the cancel flow: the organization's `allowed_origins` setting, preflights of the
//! routes, `Access-Control-Allow-Origin` for allowed origins only, and 403 (nothing
//! recorded) for others.
use reqwest::{Method, Response};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid, parts, TestApp};

const FLOW: [&str; 5] = [
    "/api/v1/intercept",
    "/api/v1/intercept/outcome",
    "/api/v1/intercept/apply-offer",
    "/api/v1/intercept/sentiment",
    "/api/v1/intercept/update-card",
];
const SITE: &str = "https://app.example.com";

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header"))
}

fn varies_on_origin(response: &Response) -> bool {
    response
        .headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

async fn allow(app: &TestApp, origins: Value) {
    let (status, body) = parts(
        app.patch_settings(json!({ "allowed_origins": origins }))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn options(app: &TestApp, path: &str, origin: Option<&str>) -> Response {
    let mut request = app
        .client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        );
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request.send().await.unwrap()
}

/// `POST path` from a browser at `origin`: with the key, or with a session token.
async fn post_from(
    app: &TestApp,
    origin: &str,
    auth: &Auth<'_>,
    path: &str,
    body: &Value,
) -> Response {
    let request = app
        .client
        .post(format!("{}{path}", app.address))
        .header("Origin", origin)
        .json(body);
    let request = match auth {
        Auth::Key => request.header("X-Knot-Key", &app.key),
        Auth::Session(token) => request.bearer_auth(token),
        Auth::Nothing => request,
    };
    request.send().await.unwrap()
}

enum Auth<'a> {
    Key,
    Session(&'a str),
    Nothing,
}

async fn session_token(app: &TestApp, email: &str) -> String {
    let (status, secret) = parts(app.post("/api/v1/signing-secrets", &json!({})).await).await;
    assert_eq!(status, 201, "{secret}");
    let (status, session) = parts(
        app.post("/api/v1/sessions", &json!({"user_email": email}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{session}");
    session["token"].as_str().unwrap().to_owned()
}

async fn impressions(app: &TestApp) -> u64 {
    entity::impression::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[actix_web::test]
async fn allowed_origins_are_a_setting_with_laravel_messages() {
    let app = TestApp::spawn().await;
    let (_, defaults) = parts(app.get("/api/v1/settings").await).await;
    assert_eq!(defaults["allowed_origins"], json!([]));

    // Kept as browsers send them: lower case, no default port, once each.
    let (status, settings) = parts(
        app.patch_settings(json!({"allowed_origins": [
            "HTTPS://App.Example.com:443", "http://localhost:3000", "https://app.example.com",
            "http://[::1]:5173", "https://shop.example.com:8443"
        ]}))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    let expected = json!([
        "https://app.example.com",
        "http://localhost:3000",
        "http://[::1]:5173",
        "https://shop.example.com:8443"
    ]);
    assert_eq!(settings["allowed_origins"], expected);
    let (_, read) = parts(app.get("/api/v1/settings").await).await;
    assert_eq!(read["allowed_origins"], expected);
    // A PATCH that names other fields keeps the list.
    let (_, kept) = parts(app.patch_settings(json!({"offer_cooldown_days": 3})).await).await;
    assert_eq!(kept["allowed_origins"], expected);

    let long = format!("https://{}.example.com", "a".repeat(240));
    for (origins, field, message) in [
        (
            json!("https://app.example.com"),
            "allowed_origins",
            "The allowed origins field must be an array.".to_owned(),
        ),
        (
            json!((0..21)
                .map(|n| format!("https://a{n}.example.com"))
                .collect::<Vec<_>>()),
            "allowed_origins",
            "The allowed origins field must not have more than 20 items.".to_owned(),
        ),
        (
            json!([SITE, 42]),
            "allowed_origins.1",
            "The allowed origins.1 field must be a string.".to_owned(),
        ),
        (
            json!([long]),
            "allowed_origins.0",
            "The allowed origins.0 field must not be greater than 255 characters.".to_owned(),
        ),
        (
            json!(["https://*.example.com"]),
            "allowed_origins.0",
            "The allowed origins.0 field must not contain a wildcard: list each origin exactly."
                .to_owned(),
        ),
        (
            json!(["https://app.example.com/"]),
            "allowed_origins.0",
            "The allowed origins.0 field must be an origin without a path, query or fragment (not even a trailing slash).".to_owned(),
        ),
        (
            json!(["http://app.example.com"]),
            "allowed_origins.0",
            "The allowed origins.0 field must use https:// (http:// only for localhost, 127.0.0.1 and [::1]).".to_owned(),
        ),
        (
            json!(["app.example.com"]),
            "allowed_origins.0",
            "The allowed origins.0 field must be an origin such as https://app.example.com: a scheme, an ASCII host name (punycode for international names) and an optional port.".to_owned(),
        ),
        (
            json!(["null"]),
            "allowed_origins.0",
            "The allowed origins.0 field must be an origin such as https://app.example.com: a scheme, an ASCII host name (punycode for international names) and an optional port.".to_owned(),
        ),
    ] {
        assert_invalid(
            app.patch_settings(json!({ "allowed_origins": origins }))
                .await,
            field,
            &message,
        )
        .await;
    }
    // A refused PATCH changed nothing; null clears the list.
    let (_, read) = parts(app.get("/api/v1/settings").await).await;
    assert_eq!(read["allowed_origins"], expected);
    let (_, cleared) = parts(app.patch_settings(json!({"allowed_origins": null})).await).await;
    assert_eq!(cleared["allowed_origins"], json!([]));
}

#[actix_web::test]
async fn preflights_of_the_cancel_flow_routes_are_answered_for_any_listable_origin() {
    let app = TestApp::spawn().await;
    // No organization is known to a preflight: nothing is listed, and it is answered anyway.
    for path in FLOW {
        let response = options(&app, path, Some(SITE)).await;
        assert_eq!(response.status().as_u16(), 204, "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
        assert_eq!(
            header(&response, "access-control-allow-methods"),
            Some("POST")
        );
        assert_eq!(
            header(&response, "access-control-allow-headers"),
            Some("authorization, content-type")
        );
        assert_eq!(header(&response, "access-control-max-age"), Some("600"));
        assert!(varies_on_origin(&response), "{path}");
        assert_eq!(header(&response, "access-control-allow-credentials"), None);
        assert!(response.text().await.unwrap().is_empty());
    }
    // An origin no organization could list is not echoed; a plain OPTIONS gets `Allow`.
    for origin in ["null", "http://evil.example", "https://App.example.com"] {
        let response = options(&app, FLOW[0], Some(origin)).await;
        assert_eq!(response.status().as_u16(), 204);
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert_eq!(header(&response, "access-control-allow-methods"), None);
    }
    let response = options(&app, FLOW[0], None).await;
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(header(&response, "allow"), Some("POST, OPTIONS"));
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    // A preflight records nothing.
    assert_eq!(impressions(&app).await, 0);
}

#[actix_web::test]
async fn other_routes_answer_options_as_before() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/offers",
        "/api/v1/settings",
        "/api/v1/intercept/applications/1",
        "/api/v1/sessions",
        "/health",
    ] {
        let response = options(&app, path, Some(SITE)).await;
        assert_eq!(response.status().as_u16(), 405, "{path}");
        assert!(header(&response, "allow").is_some(), "{path}");
        assert_eq!(header(&response, "access-control-allow-origin"), None);
    }
    // These routes still answer 405 to methods they do not serve.
    let response = app
        .client
        .get(format!("{}/api/v1/intercept", app.address))
        .header("Origin", SITE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(header(&response, "allow"), Some("POST"));
}

#[actix_web::test]
async fn an_allowed_origin_is_echoed_on_the_routes_answers() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    allow(&app, json!([SITE, "http://localhost:3000"])).await;
    let token = session_token(&app, "user@example.com").await;
    for auth in [Auth::Key, Auth::Session(&token)] {
        for origin in [SITE, "http://localhost:3000"] {
            let response = post_from(
                &app,
                origin,
                &auth,
                "/api/v1/intercept",
                &json!({"target_id": "cancel-btn", "user_email": "user@example.com"}),
            )
            .await;
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(
                header(&response, "access-control-allow-origin"),
                Some(origin)
            );
            assert!(varies_on_origin(&response));
            assert_eq!(header(&response, "access-control-allow-credentials"), None);
            let exposed = header(&response, "access-control-expose-headers").unwrap();
            assert!(exposed.contains("retry-after") && exposed.contains("x-request-id"));
            let (_, body) = parts(response).await;
            assert_eq!(body["offers"][0]["id"], offer);
        }
    }
    // The other three routes, through the session that was shown the offer.
    let auth = Auth::Session(&token);
    for (path, body) in [
        (
            "/api/v1/intercept/outcome",
            json!({"offer_id": offer, "status": "saved"}),
        ),
        (
            "/api/v1/intercept/sentiment",
            json!({"reason": "too expensive"}),
        ),
    ] {
        let response = post_from(&app, SITE, &auth, path, &body).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(SITE),
            "{path}"
        );
    }
    // An error answered after the origin check is readable by the page too.
    let response = post_from(
        &app,
        SITE,
        &Auth::Key,
        "/api/v1/intercept/apply-offer",
        &json!({"offer_id": offer}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
    let response = post_from(
        &app,
        SITE,
        &auth,
        "/api/v1/intercept/outcome",
        &json!({"offer_id": offer, "status": "saved", "user_email": "someone@example.com"}),
    )
    .await;
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(SITE));
}

#[actix_web::test]
async fn an_origin_the_organization_does_not_list_is_refused_and_nothing_is_recorded() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let token = session_token(&app, "user@example.com").await;
    let intercept = json!({"target_id": "cancel-btn", "user_email": "user@example.com"});
    // Nothing listed (the default): every browser origin is refused, key or session.
    for auth in [Auth::Key, Auth::Session(&token)] {
        let response = post_from(&app, SITE, &auth, "/api/v1/intercept", &intercept).await;
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        let (status, body) = parts(response).await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            json!({"message": "Origin https://app.example.com is not allowed for this organization."})
        );
    }
    allow(&app, json!([SITE])).await;
    // Listed for another organization is not listed for this one; nor is a near miss.
    let (_, other_key) = app.second_organization().await;
    let (status, _) = parts(
        app.patch_as(
            &other_key,
            "/api/v1/settings",
            &json!({"allowed_origins": ["https://evil.example.com"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    for origin in [
        "https://evil.example.com",
        "https://app.example.com:8443",
        "http://app.example.com",
        "https://App.example.com",
        "null",
    ] {
        for auth in [Auth::Key, Auth::Session(&token)] {
            for (path, body) in [
                ("/api/v1/intercept", intercept.clone()),
                (
                    "/api/v1/intercept/outcome",
                    json!({"offer_id": offer, "status": "saved"}),
                ),
                (
                    "/api/v1/intercept/sentiment",
                    json!({"reason": "too expensive"}),
                ),
                (
                    "/api/v1/intercept/apply-offer",
                    json!({"offer_id": offer, "stripe_subscription_id": "sub_1"}),
                ),
            ] {
                let response = post_from(&app, origin, &auth, path, &body).await;
                assert_eq!(header(&response, "access-control-allow-origin"), None);
                let (status, body) = parts(response).await;
                assert_eq!(status, 403, "{origin} {path}: {body}");
                assert_eq!(
                    body["message"],
                    format!("Origin {origin} is not allowed for this organization.")
                );
            }
        }
    }
    assert_eq!(impressions(&app).await, 0);
    assert_eq!(
        entity::outcome::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    let (_, summary) = parts(app.get("/api/v1/analytics/summary").await).await;
    assert_eq!(
        (summary["impressions"].as_u64(), summary["saves"].as_u64()),
        (Some(0), Some(0)),
        "{summary}"
    );
    // The listed origin goes through.
    let response = post_from(&app, SITE, &Auth::Key, "/api/v1/intercept", &intercept).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(impressions(&app).await, 1);
}

#[actix_web::test]
async fn requests_without_origin_and_unauthenticated_ones_are_answered_as_before() {
    let app = TestApp::spawn().await;
    app.discount_offer().await;
    // Server to server: no Origin, nothing listed, answered as always, no CORS headers.
    let response = app.intercept(json!({"target_id": "cancel-btn"})).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert!(!varies_on_origin(&response));
    assert_eq!(impressions(&app).await, 1);
    // Before the organization is known, whether the origin is allowed is unknown: no ACAO.
    allow(&app, json!([SITE])).await;
    for auth in [Auth::Nothing, Auth::Session("not.a.token")] {
        let response = post_from(
            &app,
            SITE,
            &auth,
            "/api/v1/intercept",
            &json!({"target_id": "cancel-btn"}),
        )
        .await;
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(header(&response, "access-control-allow-origin"), None);
    }
    assert_eq!(impressions(&app).await, 1);
}

use serde_json::json;

use crate::helpers::{parts, TestApp};

#[actix_web::test]
async fn malformed_bodies_get_clear_json_errors() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/intercept", app.address);
    let send = |content_type: &'static str, body: String| {
        app.client
            .post(&url)
            .header("X-Knot-Key", &app.key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let (status, body) = parts(send("application/json", "{not json".into()).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    let (status, _) = parts(
        send("text/plain", r#"{"target_id":"x"}"#.into())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = parts(send("application/json", "[1,2]".into()).await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "The request body must be a JSON object.");
    let huge = format!(r#"{{"target_id":"x","pad":"{}"}}"#, "a".repeat(70 * 1024));
    let (status, _) = parts(send("application/json", huge).await.unwrap()).await;
    assert_eq!(status, 413);
}

#[actix_web::test]
async fn unknown_routes_are_404_json_and_health_and_ready_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = parts(app.get("/api/v1/nothing-here").await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("Not found."))
    );
    let (status, body) = parts(app.get("/api/v1/offers/not-a-number").await).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = parts(app.get("/health").await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = parts(app.get("/ready").await).await;
    assert_eq!((status, body["database"].as_str()), (200, Some("ok")));
    let response = app.get("/health").await;
    assert!(response.headers().contains_key("x-request-id"));
}

#[actix_web::test]
async fn no_client_input_produces_a_500() {
    let app = TestApp::spawn().await;
    let weird = [
        json!({"target_id": "\u{0000}"}),
        json!({"target_id": "x", "mrr_value": 1e308}),
        json!({"target_id": "x", "mrr_value": "1e400"}),
        json!({"target_id": "x", "user_email": "a@b.c", "stripe_customer_id": "ü".repeat(255)}),
        json!({"target_id": ["x"]}),
        json!({"target_id": {"a": 1}, "trigger": 5, "mrr_value": true}),
        json!({"offer_id": 9.5, "status": "saved"}),
        json!({"offer_id": 99999999999999999999u128 as f64, "status": "saved"}),
    ];
    for body in &weird {
        for path in [
            "/api/v1/intercept",
            "/api/v1/intercept/outcome",
            "/api/v1/dunning",
            "/api/v1/success-signal",
            "/api/v1/offers",
        ] {
            let (status, answer) = parts(app.post(path, body).await).await;
            assert!(status < 500, "{path} {body} gave {status}: {answer}");
        }
    }
}

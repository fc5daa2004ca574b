//! No client input reaches a panic: numbers are bounded at the edge, and a panic that happens
//! anyway is answered as a 500 and leaves the actors running.
use serde_json::json;

use crate::helpers::{assert_invalid, parts, TestApp};

#[actix_web::test]
async fn a_ticket_page_beyond_the_bound_is_refused_and_the_last_page_answers() {
    let app = TestApp::spawn().await;
    // Once a 500: the offset overflowed while SQLite bound it, on the actors' thread.
    assert_invalid(
        app.get("/api/v1/tickets?page=9223372036854775807&per_page=100")
            .await,
        "page",
        "The page field must not be greater than 1000000.",
    )
    .await;
    assert_invalid(
        app.get("/api/v1/tickets?page=99999999999999999999").await,
        "page",
        "The page field must be an integer.",
    )
    .await;
    assert_invalid(
        app.get("/api/v1/tickets?per_page=-1").await,
        "per_page",
        "The per page field must be at least 1.",
    )
    .await;
    // The largest page allowed reaches SQL and is simply empty.
    let (status, body) = parts(app.get("/api/v1/tickets?page=1000000&per_page=100").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["meta"]["page"], 1_000_000);
    // The ticket desk still answers.
    let (status, _) = parts(app.get("/api/v1/tickets").await).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn ids_beyond_the_database_integers_name_nothing() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/tickets/9223372036854775807",
        "/api/v1/offers/9223372036854775807",
        "/api/v1/offers/99999999999999999999",
        "/api/v1/experiments/9223372036854775807/results",
        "/api/v1/intercept/applications/9223372036854775807",
    ] {
        let (status, body) = parts(app.get(path).await).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = parts(
        app.outcome(json!({"offer_id": 9223372036854775807_i64, "status": "saved"}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["errors"]["offer_id"].is_array(), "{body}");
}

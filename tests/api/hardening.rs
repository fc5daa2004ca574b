//! No client input reaches a panic: numbers are bounded at the edge, and a panic that happens
//! anyway is answered as a 500 and leaves the actors running.
use saveloops::actors::offer_selector::OfferSelector;
use saveloops::actors::ticket_desk::WorkTickets;
use saveloops::actors::{guard_act, Failure};
use saveloops::domain::paging::PageRequest;
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

/// Work that panics inside an actor's own task, as a handler's future might.
#[derive(actix::Message)]
#[rtype(result = "Result<(), Failure>")]
struct PanicInside;

impl actix::Handler<PanicInside> for OfferSelector {
    type Result = actix::ResponseActFuture<Self, Result<(), Failure>>;

    fn handle(&mut self, _: PanicInside, _: &mut Self::Context) -> Self::Result {
        guard_act(actix::fut::wrap_future(async {
            if std::hint::black_box(true) {
                panic!("the offer selector's work went wrong");
            }
            Ok(())
        }))
    }
}

#[actix_web::test]
async fn an_actor_whose_work_panics_answers_an_error_and_keeps_running() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let answer = app
        .actors
        .offers
        .send(PanicInside)
        .await
        .expect("the offer selector is still running: the panic became an answer");
    match answer {
        Err(Failure::Unexpected(e)) => assert!(e.to_string().contains("panicked"), "{e}"),
        other => panic!("expected an unexpected failure, got {other:?}"),
    }
    // The same actor (its cache included) answers the next request.
    let (status, body) = parts(app.get(&format!("/api/v1/offers/{offer}")).await).await;
    assert_eq!((status, body["id"].as_i64()), (200, Some(offer)), "{body}");
    let (status, _) = parts(app.intercept(json!({"target_id": "cancel-btn"})).await).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_ticket_page_past_the_edge_panics_in_sql_binding_and_the_desk_goes_on() {
    let app = TestApp::spawn().await;
    // Past the HTTP edge's bound: the offset no longer fits the database's integer, and
    // binding it panics (the bug the edge now prevents).
    let past_the_edge = WorkTickets::List {
        organization_id: app.organization_id,
        status: None,
        priority: None,
        assignee: None,
        paging: PageRequest {
            page: u64::MAX,
            per_page: 100,
        },
    };
    let answer = app
        .actors
        .tickets
        .send(past_the_edge)
        .await
        .expect("the ticket desk answers");
    match answer {
        Err(Failure::Unexpected(e)) => assert!(e.to_string().contains("panicked"), "{e}"),
        other => panic!("expected the panic as a failure, got {other:?}"),
    }
    let (status, body) = parts(app.get("/api/v1/tickets").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["total"], 0);
}

#[actix_web::test]
async fn a_method_a_path_does_not_serve_is_405_with_allow() {
    let app = TestApp::spawn().await;
    for (path, allowed) in [
        ("/api/v1/offers", "GET, POST"),
        ("/api/v1/offers/1", "GET, PATCH, DELETE"),
        ("/api/v1/intercept", "POST"),
    ] {
        let response = app
            .client
            .request(reqwest::Method::TRACE, format!("{}{path}", app.address))
            .header("X-Knot-Key", &app.key)
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = parts(response).await;
        assert_eq!(status, 405, "{path}: {body}");
        assert_eq!(allow.as_deref(), Some(allowed), "{path}");
        assert_eq!(body["message"], "Method not allowed.");
    }
    // A path nobody serves is still 404.
    let (status, _) = parts(app.get("/api/v1/nowhere").await).await;
    assert_eq!(status, 404);
}

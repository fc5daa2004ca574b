use serde_json::json;

use crate::helpers::{assert_invalid, parts, TestApp};

#[actix_web::test]
async fn offers_can_be_created_listed_read_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let (status, created) = parts(
        app.create_offer(json!({
            "type": "discount", "value": 25, "label": "25% off for 3 months",
            "config": {"duration": "repeating", "duration_in_months": 3},
            "target_id": "cancel-btn", "triggers": ["click", "exit_intent"],
            "min_mrr": 10, "max_mrr": 99.5, "priority": 5
        }))
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["type"], "discount");
    assert_eq!(created["triggers"], json!(["click", "exit_intent"]));
    assert_eq!(created["max_mrr"], json!(99.5));
    assert_eq!(created["active"], true);

    let (_, list) = parts(app.get("/api/v1/offers").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (status, read) = parts(app.get(&format!("/api/v1/offers/{id}")).await).await;
    assert_eq!((status, &read), (200, &created));

    let (status, updated) = parts(
        app.patch_offer(
            id,
            json!({"label": "Stay for less", "max_mrr": null, "priority": 7}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["label"], "Stay for less");
    assert_eq!(updated["max_mrr"], json!(null));
    assert_eq!(
        updated["config"]["duration_in_months"], 3,
        "untouched fields stay"
    );

    // A PATCH that would make the offer invalid is refused and changes nothing.
    assert_invalid(
        app.patch_offer(id, json!({"config": {"duration": "repeating"}}))
            .await,
        "config.duration_in_months",
        "The config.duration in months field is required when config.duration is repeating.",
    )
    .await;
    let (_, unchanged) = parts(app.get(&format!("/api/v1/offers/{id}")).await).await;
    assert_eq!(unchanged["config"]["duration_in_months"], 3);

    let (status, deleted) = parts(app.delete_offer(id).await).await;
    assert_eq!((status, deleted["deleted"].as_bool()), (200, Some(true)));
    let (status, _) = parts(app.get(&format!("/api/v1/offers/{id}")).await).await;
    assert_eq!(status, 404);
    let (status, _) = parts(app.delete_offer(id).await).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn deleting_an_offer_with_outcomes_deactivates_it() {
    let app = TestApp::spawn().await;
    let id = app.discount_offer().await;
    app.outcome(json!({"offer_id": id, "status": "saved"}))
        .await;
    let (status, answer) = parts(app.delete_offer(id).await).await;
    assert_eq!(status, 200);
    assert_eq!(answer["deleted"], false);
    let (status, offer) = parts(app.get(&format!("/api/v1/offers/{id}")).await).await;
    assert_eq!((status, offer["active"].as_bool()), (200, Some(false)));
    let (_, shown) = parts(app.intercept(json!({"target_id": "cancel-btn"})).await).await;
    assert_eq!(shown["offers"], json!([]));
}

#[actix_web::test]
async fn offer_validation_per_field_and_per_type() {
    let app = TestApp::spawn().await;
    let base = json!({"type": "custom", "value": 1, "label": "x"});
    let with = |extra: serde_json::Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            json!({"value": 1, "label": "x"}),
            "type",
            "The type field is required.",
        ),
        (
            with(json!({"type": "bribe"})),
            "type",
            "The selected type is invalid.",
        ),
        (
            json!({"type": "custom", "label": "x"}),
            "value",
            "The value field is required.",
        ),
        (
            with(json!({"value": -2})),
            "value",
            "The value field must be at least 0.",
        ),
        (
            json!({"type": "custom", "value": 1}),
            "label",
            "The label field is required.",
        ),
        (
            with(json!({"label": "l".repeat(256)})),
            "label",
            "The label field must not be greater than 255 characters.",
        ),
        (
            with(json!({"config": []})),
            "config",
            "The config field must be an object.",
        ),
        (
            with(json!({"triggers": ["click", "wink"]})),
            "triggers.1",
            "The selected triggers.1 is invalid.",
        ),
        (
            with(json!({"triggers": "click"})),
            "triggers",
            "The triggers field must be an array.",
        ),
        (
            with(json!({"min_mrr": 50, "max_mrr": 10})),
            "max_mrr",
            "The max mrr field must be greater than or equal to min mrr.",
        ),
        (
            with(json!({"priority": "high"})),
            "priority",
            "The priority field must be an integer.",
        ),
        (
            with(json!({"active": "yes"})),
            "active",
            "The active field must be true or false.",
        ),
        (
            json!({"type": "discount", "value": 150, "label": "x"}),
            "value",
            "The value field must be between 0 and 100 for a discount (percent off).",
        ),
        (
            json!({"type": "discount", "value": 10, "label": "x", "config": {"duration": "weekly"}}),
            "config.duration",
            "The selected config.duration is invalid.",
        ),
        (
            json!({"type": "pause", "value": 1, "label": "x", "config": {"behavior": "sleep"}}),
            "config.behavior",
            "The selected config.behavior is invalid.",
        ),
        (
            json!({"type": "downgrade", "value": 0, "label": "x"}),
            "config.price_id",
            "The config.price id field is required for a downgrade.",
        ),
        (
            json!({"type": "contact", "value": 0, "label": "x", "config": {"url": "not a url"}}),
            "config.url",
            "The config.url field must be a valid URL.",
        ),
        (
            json!({"type": "trial_extension", "value": 0.5, "label": "x"}),
            "value",
            "The value field must be a whole number of days (at least 1) for a trial extension.",
        ),
    ];
    for (body, field, message) in cases {
        assert_invalid(app.create_offer(body).await, field, message).await;
    }
    let (_, list) = parts(app.get("/api/v1/offers").await).await;
    assert_eq!(list["data"], json!([]), "no invalid offer was stored");
}

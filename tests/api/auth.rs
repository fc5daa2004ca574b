use serde_json::json;

use crate::helpers::{parts, TestApp};

#[actix_web::test]
async fn missing_unknown_malformed_and_revoked_keys_get_401_json() {
    let app = TestApp::spawn().await;
    let body = json!({"target_id": "cancel-btn"});
    let no_key = app
        .client
        .post(format!("{}/api/v1/intercept", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, answer) = parts(no_key).await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (401, Some("Unauthenticated."))
    );

    let unknown = saveloops::domain::ApiKey::generate();
    for key in ["nonsense", unknown.expose_secret()] {
        let (status, answer) = parts(app.post_as(key, "/api/v1/intercept", &body).await).await;
        assert_eq!(status, 401, "{key}");
        assert_eq!(answer["message"], "Invalid API key.");
    }

    // A key that differs from a real one only in its secret part is refused.
    let mut forged = app.key.clone();
    forged.replace_range(forged.len() - 4.., "0000");
    let (status, _) = parts(app.post_as(&forged, "/api/v1/intercept", &body).await).await;
    assert_eq!(status, 401);

    let (status, _) = parts(app.intercept(body.clone()).await).await;
    assert_eq!(status, 200);
    let prefix = &app.key[..16];
    assert!(saveloops::store::tenants::revoke_key(&app.db, prefix)
        .await
        .unwrap());
    // The key cache is short-lived; a revoked key stops working within its TTL.
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(app.settings.cache.ttl_seconds + 10);
    loop {
        let (status, _) = parts(app.intercept(body.clone()).await).await;
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revoked key still accepted"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn a_second_key_for_the_organization_works_and_keys_are_stored_hashed() {
    let app = TestApp::spawn().await;
    let second = saveloops::store::tenants::create_key(&app.db, app.organization_id)
        .await
        .unwrap();
    let (status, _) = parts(
        app.post_as(
            &second.api_key,
            "/api/v1/intercept",
            &json!({"target_id": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    use sea_orm::EntityTrait;
    let rows = entity::api_key::Entity::find().all(&app.db).await.unwrap();
    assert!(rows
        .iter()
        .all(|r| r.key_hash.len() == 64 && !app.key.contains(&r.key_hash)));
    assert!(rows.iter().all(|r| !r.key_hash.contains(&second.api_key)));
}

#[actix_web::test]
async fn another_organizations_offers_are_invisible() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    let (_, other_key) = app.second_organization().await;

    // Not listed, not readable, not usable for an outcome, not shown at intercept.
    let (_, list) = parts(app.get_as(&other_key, "/api/v1/offers").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let (status, _) = parts(
        app.get_as(&other_key, &format!("/api/v1/offers/{offer}"))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = parts(
        app.post_as(
            &other_key,
            "/api/v1/intercept/outcome",
            &json!({"offer_id": offer, "status": "saved"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"]["offer_id"][0],
        "The selected offer id is invalid."
    );
    let (_, shown) = parts(
        app.post_as(
            &other_key,
            "/api/v1/intercept",
            &json!({"target_id": "cancel-btn"}),
        )
        .await,
    )
    .await;
    assert_eq!(shown["offers"].as_array().unwrap().len(), 0);
    let patch = app
        .client
        .patch(format!("{}/api/v1/offers/{offer}", app.address))
        .header("X-Knot-Key", &other_key)
        .json(&json!({"label": "hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 404);
    let (_, mine) = parts(app.get(&format!("/api/v1/offers/{offer}")).await).await;
    assert_eq!(mine["label"], "20% off");

    // End users are per organization too: the same email is flagged in one org only.
    app.dunning(json!({"user_email": "user@example.com"})).await;
    let (_, theirs) = parts(
        app.post_as(
            &other_key,
            "/api/v1/intercept",
            &json!({"target_id": "cancel-btn", "user_email": "user@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(theirs["show_update_card"], false);
}

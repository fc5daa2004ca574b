//! Managing members over HTTP, with the key and from the members page: a role changed, a
//! member removed (their sessions end), a new one-time link (the old password stops working),
//! the organization's last active owner kept; another organization's member is not found.
use reqwest::Response;
use serde_json::{json, Value};

use crate::dashboard_support::{csrf_of, form, invite, WebClient, PASSWORD};
use crate::helpers::{assert_invalid, parts, TestApp};

const LAST_OWNER: &str =
    "This is the organization's last active owner: make another member an owner first.";

async fn delete(app: &TestApp, key: &str, path: &str) -> Response {
    app.client
        .delete(format!("{}{path}", app.address))
        .header("X-Knot-Key", key)
        .send()
        .await
        .unwrap()
}

async fn member_id(app: &TestApp, email: &str) -> i64 {
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} in {list}"))["id"]
        .as_i64()
        .unwrap()
}

fn emails(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn the_key_changes_roles_removes_and_resets_but_keeps_the_last_active_owner() {
    let app = TestApp::spawn().await;
    let mut owner = WebClient::member(&app, "olga@example.com", "owner").await;
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let olga = member_id(&app, "olga@example.com").await;
    let sam_id = member_id(&app, "sam@example.com").await;

    // The last active owner stays an owner and stays.
    let (status, body) = parts(
        app.patch(
            &format!("/api/v1/members/{olga}"),
            &json!({"role": "support"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, body["message"].as_str()), (422, Some(LAST_OWNER)));
    let (status, body) =
        parts(delete(&app, &app.key, &format!("/api/v1/members/{olga}")).await).await;
    assert_eq!((status, body["message"].as_str()), (422, Some(LAST_OWNER)));
    assert_eq!(owner.get("/app/members").await.0, 200, "still signed in");

    // A bad role is the same 422 as adding one.
    assert_invalid(
        app.patch(
            &format!("/api/v1/members/{sam_id}"),
            &json!({"role": "boss"}),
        )
        .await,
        "role",
        "The selected role is invalid.",
    )
    .await;

    // Sam becomes an owner: now Olga may step down.
    let (status, changed) = parts(
        app.patch(
            &format!("/api/v1/members/{sam_id}"),
            &json!({"role": "owner"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["role"], "owner");
    assert_eq!(
        sam.get("/app/members").await.0,
        200,
        "the owners' page is Sam's now"
    );
    let (status, changed) = parts(
        app.patch(
            &format!("/api/v1/members/{olga}"),
            &json!({"role": "support"}),
        )
        .await,
    )
    .await;
    assert_eq!((status, changed["role"].as_str()), (200, Some("support")));
    assert_eq!(
        owner.get("/app/members").await.0,
        403,
        "Olga is support now"
    );

    // Removing Olga ends her session: her next page asks her to sign in.
    let (status, removed) =
        parts(delete(&app, &app.key, &format!("/api/v1/members/{olga}")).await).await;
    assert_eq!(
        (status, removed["email"].as_str()),
        (200, Some("olga@example.com"))
    );
    let (status, location, _) = owner.get("/app").await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));
    let (status, _) = owner.sign_in("olga@example.com", PASSWORD).await;
    assert_eq!(status, 401, "a removed member cannot sign in");
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    assert_eq!(emails(&list), vec!["sam@example.com"]);
    let (status, _) = parts(delete(&app, &app.key, &format!("/api/v1/members/{olga}")).await).await;
    assert_eq!(status, 404, "gone");

    // A new link for Sam: the old password and session end; the link sets a new one.
    let (status, reset) = parts(
        app.post(&format!("/api/v1/members/{sam_id}/reset"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["active"], false);
    let link = reset["invite_url"].as_str().unwrap().to_owned();
    assert_eq!(sam.get("/app").await.0, 303, "signed out");
    let mut fresh = WebClient::new(&app);
    assert_eq!(fresh.sign_in("sam@example.com", PASSWORD).await.0, 401);
    assert_eq!(fresh.accept(&link, "a brand new password").await, 303);
    assert_eq!(
        fresh.sign_in("sam@example.com", PASSWORD).await.0,
        401,
        "the old password is gone"
    );
    assert_eq!(
        fresh
            .sign_in("sam@example.com", "a brand new password")
            .await
            .0,
        303
    );
    assert_ne!(fresh.get(&link).await.0, 200, "the link works once");

    // Another organization's key finds none of these; ids that are not ids are 404.
    let (_, other_key) = app.second_organization().await;
    let response = app
        .client
        .patch(format!("{}/api/v1/members/{sam_id}", app.address))
        .header("X-Knot-Key", &other_key)
        .json(&json!({"role": "support"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        delete(&app, &other_key, &format!("/api/v1/members/{sam_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        delete(&app, &app.key, "/api/v1/members/abc").await.status(),
        404
    );
    let (status, _) = parts(app.post("/api/v1/members/0/reset", &json!({})).await).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn an_invited_owner_who_never_signed_in_is_not_the_last_active_owner() {
    let app = TestApp::spawn().await;
    invite(&app, "pending@example.com", "owner").await;
    let pending = member_id(&app, "pending@example.com").await;
    let (status, body) = parts(
        app.patch(
            &format!("/api/v1/members/{pending}"),
            &json!({"role": "support"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        parts(delete(&app, &app.key, &format!("/api/v1/members/{pending}")).await).await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn the_members_page_changes_a_role_removes_resets_and_refuses_without_csrf() {
    let app = TestApp::spawn().await;
    let mut owner = WebClient::member(&app, "olga@example.com", "owner").await;
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let olga = member_id(&app, "olga@example.com").await;
    let sam_id = member_id(&app, "sam@example.com").await;
    let (status, _, html) = owner.get("/app/members").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);

    // Support staff cannot, even with their own form token.
    let (_, _, support_html) = sam.get("/app/tickets").await;
    let sam_csrf = csrf_of(&support_html);
    let (status, _, _) = sam
        .post(
            &format!("/app/members/{olga}/remove"),
            form(&[("csrf", &sam_csrf)]),
        )
        .await;
    assert_eq!(status, 403);

    // Without the CSRF token: refused, nothing changes.
    let (status, _, _) = owner
        .post(
            &format!("/app/members/{sam_id}/role"),
            form(&[("role", "owner")]),
        )
        .await;
    assert_eq!(status, 403);
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    assert!(list.to_string().contains("\"role\":\"support\""), "{list}");

    // The last owner is kept, with the rule's words on the page.
    let (status, _, page) = owner
        .post(
            &format!("/app/members/{olga}/role"),
            form(&[("csrf", &csrf), ("role", "support")]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("last active owner"), "{page}");
    let (status, _, page) = owner
        .post(
            &format!("/app/members/{olga}/remove"),
            form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("last active owner"), "{page}");
    let (status, _, page) = owner
        .post(
            &format!("/app/members/{sam_id}/role"),
            form(&[("csrf", &csrf), ("role", "boss")]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("The role must be one of: owner, support."),
        "{page}"
    );

    // A new link for Sam, shown once; then Sam removed: signed out for good.
    let (status, _, page) = owner
        .post(
            &format!("/app/members/{sam_id}/reset"),
            form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("/app/invite/"), "the link is shown");
    assert_eq!(sam.get("/app").await.0, 303, "Sam's session ended");
    let (status, _, page) = owner.get(&format!("/app/members/{sam_id}/remove")).await;
    assert_eq!(status, 200, "asked first");
    assert!(page.contains("Remove sam@example.com"), "{page}");
    assert_eq!(
        owner.get(&format!("/app/members/{sam_id}/reset")).await.0,
        404
    );
    let (status, _, page) = owner
        .post(
            &format!("/app/members/{sam_id}/remove"),
            form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Removed sam@example.com"), "{page}");
    let (status, _, _) = owner
        .post(
            &format!("/app/members/{sam_id}/remove"),
            form(&[("csrf", &csrf)]),
        )
        .await;
    assert_eq!(status, 404, "already gone");
    let (status, _, _) = owner
        .post("/app/members/nope/remove", form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(status, 404);
}

/// `member role`, `member reset` and `member remove`: the same rules from the command line.
#[actix_web::test]
async fn the_member_commands_change_reset_and_remove_but_keep_the_last_owner() {
    use std::process::Command;
    let url = crate::helpers::fresh_database_url().await;
    let mut settings = crate::helpers::test_settings().await;
    settings.database.url = url.clone();
    let app = TestApp::spawn_with(settings).await;
    let run = |args: &[&str]| crate::cli::saveloops_cli(&[("SAVELOOPS_DATABASE__URL", &url)], args);
    let org = app.organization_id.to_string();
    let _owner = WebClient::member(&app, "olga@example.com", "owner").await;
    let mut sam = WebClient::member(&app, "sam@example.com", "support").await;
    let olga = member_id(&app, "olga@example.com").await.to_string();
    let sam_id = member_id(&app, "sam@example.com").await.to_string();

    let refused = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .args([
            "member", "role", "--org", &org, "--id", &olga, "--role", "support",
        ])
        .env("SAVELOOPS_DATABASE__URL", &url)
        .env("SAVELOOPS_LOG__LEVEL", "warn")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains(LAST_OWNER));

    let changed = run(&[
        "member", "role", "--org", &org, "--id", &sam_id, "--role", "owner",
    ]);
    assert_eq!(changed["role"], "owner");
    let reset = run(&[
        "member",
        "reset",
        "--org",
        &org,
        "--id",
        &sam_id,
        "--base-url",
        &app.address,
    ]);
    assert_eq!(reset["active"], false);
    assert_eq!(sam.get("/app").await.0, 303, "signed out");
    let link = reset["invite_url"].as_str().unwrap();
    assert_eq!(
        WebClient::new(&app)
            .accept(link, "sam's new password")
            .await,
        303
    );
    let removed = run(&["member", "remove", "--org", &org, "--id", &sam_id]);
    assert_eq!(removed["email"], "sam@example.com");
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    assert_eq!(emails(&list), vec!["olga@example.com"]);
}

/// Two owners who make each other support at the same moment: the changes take turns, so
/// one of them is refused and an active owner remains, on either backend.
#[actix_web::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = TestApp::spawn().await;
    WebClient::member(&app, "olga@example.com", "owner").await;
    WebClient::member(&app, "otto@example.com", "owner").await;
    let olga = member_id(&app, "olga@example.com").await;
    let otto = member_id(&app, "otto@example.com").await;
    for round in 0..5 {
        let statuses: Vec<u16> = futures_util::future::join_all([olga, otto].map(|id| {
            let app = &app;
            async move {
                app.patch(
                    &format!("/api/v1/members/{id}"),
                    &json!({"role": "support"}),
                )
                .await
                .status()
                .as_u16()
            }
        }))
        .await;
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![200, 422], "round {round}: {statuses:?}");
        let (_, list) = parts(app.get("/api/v1/members").await).await;
        let owners = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "owner")
            .count();
        assert_eq!(owners, 1, "{list}");
        // Both owners again for the next round.
        for id in [olga, otto] {
            let response = app
                .patch(&format!("/api/v1/members/{id}"), &json!({"role": "owner"}))
                .await;
            assert_eq!(response.status(), 200);
        }
    }
}

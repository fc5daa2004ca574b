//! The dashboard's members and sign-in, over HTTP: adding members with the key, the one-time
//! link, the session cookie's attributes, CSRF, throttling, expiry and sign-out, and the
//! owners' pages refused to support staff.
use serde_json::json;

use crate::dashboard_support::{csrf_of, form, invite, WebClient, PASSWORD};
use crate::helpers::{assert_invalid, parts, TestApp};

#[actix_web::test]
async fn owners_add_members_with_the_key_and_the_list_shows_no_secret() {
    let app = TestApp::spawn().await;
    let (status, added) = parts(
        app.post(
            "/api/v1/members",
            &json!({"email": " Ann@Example.com ", "role": "support"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["email"], "ann@example.com");
    assert_eq!(added["role"], "support");
    assert_eq!(added["active"], false);
    let link = added["invite_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/app/invite/", app.address)),
        "{link}"
    );

    assert_invalid(
        app.post(
            "/api/v1/members",
            &json!({"email": "ann@example.com", "role": "owner"}),
        )
        .await,
        "email",
        "The email has already been taken.",
    )
    .await;
    assert_invalid(
        app.post(
            "/api/v1/members",
            &json!({"email": "nope", "role": "owner"}),
        )
        .await,
        "email",
        "The email field must be a valid email address.",
    )
    .await;
    assert_invalid(
        app.post(
            "/api/v1/members",
            &json!({"email": "bob@example.com", "role": "admin"}),
        )
        .await,
        "role",
        "The selected role is invalid.",
    )
    .await;

    let (status, list) = parts(app.get("/api/v1/members").await).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let text = list.to_string();
    assert!(!text.contains("invite") && !text.contains("hash"), "{text}");

    // Another organization sees none of them.
    let (_, other_key) = app.second_organization().await;
    let (_, others) = parts(app.get_as(&other_key, "/api/v1/members").await).await;
    assert_eq!(others["data"], json!([]));
}

#[actix_web::test]
async fn the_link_sets_a_password_once_and_sign_in_sets_a_strict_cookie() {
    let app = TestApp::spawn().await;
    let link = invite(&app, "owner@example.com", "owner").await;
    let mut web = WebClient::new(&app);

    // Too short, or not repeated: refused, and the link still works.
    let (_, _, html) = web.get(&link).await;
    let csrf = csrf_of(&html);
    let (status, _, body) = web
        .post(
            &link,
            form(&[
                ("csrf", &csrf),
                ("password", "short"),
                ("password_confirmation", "short"),
            ]),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("at least 10 characters"), "{body}");
    assert_eq!(web.accept(&link, PASSWORD).await, 303);
    // Used: the link is dead.
    let (status, _, _) = web.get(&link).await;
    assert_eq!(status, 404);

    // Nobody is signed in yet: to the sign-in form.
    let (status, location, _) = web.get("/app").await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));

    let (status, _) = web.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let session = web
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("saveloops_session="))
        .expect("a session cookie")
        .clone();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/app", "Max-Age=43200"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    let (status, _, html) = web.get("/app").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("owner@example.com"));

    // Behind TLS (a proxy says so), the cookie is Secure.
    let mut tls = WebClient::new(&app);
    let (_, _, html) = tls.get("/app/sign-in").await;
    let csrf = csrf_of(&html);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/app/sign-in", app.address))
        .header("x-forwarded-proto", "https")
        .header(
            "cookie",
            format!("saveloops_presession={}", tls.cookies[0].1),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf", &csrf),
            ("email", "owner@example.com"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let secure = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("saveloops_session="))
        .unwrap();
    assert!(secure.contains("; Secure"), "{secure}");
}

#[actix_web::test]
async fn wrong_passwords_are_throttled_per_account_and_per_address() {
    let app = TestApp::spawn().await;
    let _owner = WebClient::member(&app, "owner@example.com", "owner").await;
    let mut web = WebClient::new(&app);
    for _ in 0..5 {
        let (status, body) = web.sign_in("owner@example.com", "wrong password").await;
        assert_eq!(status, 401);
        assert!(body.contains("These credentials do not match our records."));
    }
    // The sixth try is refused even with the right password.
    let (status, body) = web.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Too many failed sign-ins. Try again in 15 minutes."));
    // The address is throttled too: another account from it waits as well.
    let link = invite(&app, "sam@example.com", "support").await;
    assert_eq!(WebClient::new(&app).accept(&link, PASSWORD).await, 303);
    let (status, _) = web.sign_in("sam@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    // After the window, the right password works again.
    app.actors.clock.advance(chrono::Duration::minutes(16));
    let (status, _) = web.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(status, 303);
}

#[actix_web::test]
async fn a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut owner = WebClient::member(&app, "owner@example.com", "owner").await;
    let (_, _, members) = owner.get("/app/members").await;
    let csrf = csrf_of(&members);
    for body in [
        form(&[("email", "eve@example.com"), ("role", "owner")]),
        form(&[
            ("csrf", "0000"),
            ("email", "eve@example.com"),
            ("role", "owner"),
        ]),
    ] {
        let (status, _, html) = owner.post("/app/members", body).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("Form refused"), "{html}");
    }
    let (_, list) = parts(app.get("/api/v1/members").await).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    // Another session's token is no good either.
    let mut second = WebClient::new(&app);
    let (status, _) = second.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let (_, _, other) = second.get("/app/members").await;
    assert_ne!(csrf_of(&other), csrf);
    let (status, _, _) = owner
        .post(
            "/app/members",
            form(&[
                ("csrf", &csrf_of(&other)),
                ("email", "eve@example.com"),
                ("role", "owner"),
            ]),
        )
        .await;
    assert_eq!(status, 403);
    // With its token, the same form works.
    let (status, _, html) = owner
        .post(
            "/app/members",
            form(&[
                ("csrf", &csrf),
                ("email", "eve@example.com"),
                ("role", "support"),
            ]),
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("/app/invite/"));
    // A sign-in form without the pre-session's token is refused too.
    let mut stranger = WebClient::new(&app);
    let (status, _, _) = stranger
        .post(
            "/app/sign-in",
            form(&[("email", "owner@example.com"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn support_staff_are_refused_the_owners_pages_and_the_cookie_opens_no_api() {
    let app = TestApp::spawn().await;
    let mut support = WebClient::member(&app, "sam@example.com", "support").await;
    let (status, _, html) = support.get("/app").await;
    assert_eq!(status, 200);
    assert!(!html.contains("href=\"/app/members\""), "no owner link");
    let (status, _, _) = support.get("/app/tickets").await;
    assert_eq!(status, 200);
    let (status, _, html) = support.get("/app/members").await;
    assert_eq!(status, 403);
    assert!(
        html.contains("This page is for the organization&#39;s owners.")
            || html.contains("This page is for the organization's owners."),
        "{html}"
    );
    let csrf = csrf_of(&support.get("/app/tickets").await.2);
    let (status, _, _) = support
        .post(
            "/app/members",
            form(&[
                ("csrf", &csrf),
                ("email", "x@example.com"),
                ("role", "owner"),
            ]),
        )
        .await;
    assert_eq!(status, 403);
    // The session cookie is no API key.
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/members", app.address))
        .header(
            "cookie",
            format!("saveloops_session={}", support.cookies[0].1),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[actix_web::test]
async fn sessions_expire_and_signing_out_ends_them() {
    let app = TestApp::spawn().await;
    let mut web = WebClient::member(&app, "owner@example.com", "owner").await;
    let (_, _, html) = web.get("/app").await;
    let csrf = csrf_of(&html);
    let kept = web.cookies.clone();
    let (status, location, _) = web.post("/app/sign-out", form(&[("csrf", &csrf)])).await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));
    // The old cookie, replayed, opens nothing.
    web.cookies = kept;
    let (status, location, _) = web.get("/app").await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));

    let (status, _) = web.sign_in("owner@example.com", PASSWORD).await;
    assert_eq!(status, 303);
    let (status, _, _) = web.get("/app/tickets").await;
    assert_eq!(status, 200);
    app.actors.clock.advance(chrono::Duration::hours(13));
    let (status, location, _) = web.get("/app/tickets").await;
    assert_eq!((status, location.as_deref()), (303, Some("/app/sign-in")));
}

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, parts, TestApp};

/// Runs the binary as an operator would; it must succeed and print one JSON object.
pub(crate) fn saveloops_cli(env: &[(&str, &str)], args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .args(args)
        .envs(env.iter().copied())
        .env("SAVELOOPS_LOG__LEVEL", "warn")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON object on stdout: {stdout}"
    );
    serde_json::from_str::<Value>(&stdout).unwrap()
}

/// The README's flow: `org create` prints the id and a key that works against the service.
#[actix_web::test]
async fn org_create_prints_a_working_key_and_key_commands_manage_keys() {
    let url = fresh_database_url().await;
    let run = |args: &[&str]| saveloops_cli(&[("SAVELOOPS_DATABASE__URL", &url)], args);
    let org = run(&["org", "create", "--name", "Acme"]);
    let key = org["api_key"].as_str().unwrap().to_owned();
    let id = org["id"].as_i64().unwrap();
    let second = run(&["key", "create", "--org", &id.to_string()]);
    assert_ne!(second["api_key"], org["api_key"]);

    let mut settings = crate::helpers::test_settings().await;
    settings.database.url = url.clone();
    let app = TestApp::spawn_with(settings).await;
    let (status, _) = parts(
        app.post_as(&key, "/api/v1/intercept", &json!({"target_id": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);

    let revoked = run(&["key", "revoke", second["key_prefix"].as_str().unwrap()]);
    assert_eq!(revoked["revoked"], second["key_prefix"]);
    let (status, _) = parts(
        app.post_as(
            second["api_key"].as_str().unwrap(),
            "/api/v1/intercept",
            &json!({"target_id": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401, "revoked before first use, so never cached");
}

#[test]
fn sentiment_eval_reports_quality_on_the_held_out_split() {
    let output = Command::new(env!("CARGO_BIN_EXE_saveloops"))
        .args(["sentiment", "eval"])
        .env("SAVELOOPS_LOG__LEVEL", "warn")
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    let report = String::from_utf8(output.stdout).unwrap();
    for part in [
        "Accuracy",
        "Macro-F1",
        "Confusion matrix",
        "Calibration",
        "held-out",
    ] {
        assert!(report.contains(part), "{part} missing from:\n{report}");
    }
    // One section per language, then all of them together.
    let sections: Vec<&str> = report.split("=== ").skip(1).collect();
    let names: Vec<&str> = sections
        .iter()
        .map(|s| s.split(" ===").next().unwrap())
        .collect();
    assert_eq!(names, ["en", "de", "fr", "es", "all languages"], "{report}");
    for (name, section) in names.iter().zip(&sections) {
        let macro_f1: f64 = section
            .lines()
            .find_map(|l| l.strip_prefix("Macro-F1:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("a macro-F1 figure");
        assert!(macro_f1 >= 0.85, "{name}: macro-F1 {macro_f1}");
    }
}

/// `signing-secret create|list|revoke`: a secret created by the CLI signs tokens the service
/// accepts, is listed without its secret, and once revoked signs nothing.
#[actix_web::test]
async fn signing_secret_commands_manage_session_secrets() {
    let mut settings = crate::helpers::test_settings().await;
    let master_key = settings.security.master_key.clone().unwrap();
    let url = settings.database.url.clone();
    let run = |args: &[&str]| {
        saveloops_cli(
            &[
                ("SAVELOOPS_DATABASE__URL", &url),
                ("SAVELOOPS_SECURITY__MASTER_KEY", &master_key),
            ],
            args,
        )
    };
    settings.database.url = url.clone();
    let app = TestApp::spawn_with(settings).await;
    let org = app.organization_id.to_string();
    let created = run(&["signing-secret", "create", "--org", &org]);
    let kid = created["kid"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let listed = run(&["signing-secret", "list", "--org", &org]);
    assert_eq!(listed["data"][0]["kid"], kid);
    assert!(!listed.to_string().contains(&secret));

    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &json!({"exp": chrono::Utc::now().timestamp() + 600, "user_email": "ann@example.com"}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let intercept = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/api/v1/intercept", app.address))
                .bearer_auth(token)
                .json(&json!({"target_id": "x"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(intercept(token.clone()).await, 200);
    let revoked = run(&["signing-secret", "revoke", "--org", &org, &kid]);
    assert_eq!(revoked["revoked"], kid.as_str());
    assert_eq!(
        run(&["signing-secret", "list", "--org", &org])["data"][0]["active"],
        false
    );
}

/// `member add` prints the one-time link; the member it names sets a password and signs in.
#[actix_web::test]
async fn member_add_prints_a_one_time_link_that_signs_the_member_in() {
    let url = fresh_database_url().await;
    let mut settings = crate::helpers::test_settings().await;
    settings.database.url = url.clone();
    let app = TestApp::spawn_with(settings).await;
    let run = |args: &[&str]| saveloops_cli(&[("SAVELOOPS_DATABASE__URL", &url)], args);
    let org = app.organization_id.to_string();
    let added = run(&[
        "member",
        "add",
        "--org",
        &org,
        "--email",
        "Ops@Example.com",
        "--role",
        "owner",
        "--base-url",
        &app.address,
    ]);
    assert_eq!(added["email"], "ops@example.com");
    assert_eq!(added["role"], "owner");
    let link = added["invite_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/app/invite/", app.address)),
        "{link}"
    );
    let listed = run(&["member", "list", "--org", &org]);
    assert_eq!(listed["data"][0]["email"], "ops@example.com");
    assert_eq!(listed["data"][0]["active"], false);

    let mut web = crate::dashboard_support::WebClient::new(&app);
    assert_eq!(
        web.accept(link, crate::dashboard_support::PASSWORD).await,
        303
    );
    let (status, _) = web
        .sign_in("ops@example.com", crate::dashboard_support::PASSWORD)
        .await;
    assert_eq!(status, 303);
    let (_, members) = parts(app.get("/api/v1/members").await).await;
    assert_eq!(members["data"][0]["active"], true);
}

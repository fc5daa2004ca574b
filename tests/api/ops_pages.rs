//! The operators' page (`/ops`) in real Chromium: signed in with the operator token, the
//! queue, dead jobs with their error and organization (retry, discard), organizations; a form
//! stripped of its CSRF token refused; axe-core on every page. Without an operator token,
//! `/ops` does not exist.
use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;

use crate::browser::{chromedriver, Browser};
use crate::fake_stripe::Fault;
use crate::helpers::TestApp;
use crate::operator::dead_application;
use crate::ops_support::{admin, ops_app, ADMIN_TOKEN};

async fn scan(b: &Browser, page: &str) {
    const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
    b.until_loaded().await;
    b.run(&format!("{AXE}\n;return true;")).await;
    let result = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document)
               .then(r => done({passes: r.passes.length,
                 violations: r.violations.map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.map(n => JSON.stringify(n.target)).join(' '))}))
               .catch(e => done({passes: 0, violations: ['axe failed: ' + e]}));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(result["violations"], json!([]), "on {page}");
    assert!(result["passes"].as_u64().unwrap() > 0);
}

async fn type_into(b: &Browser, css: &str, text: &str) {
    let field = b.client.find(Locator::Css(css)).await.expect(css);
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .unwrap();
}

#[actix_web::test]
async fn without_an_operator_token_ops_does_not_exist() {
    let app = TestApp::spawn().await;
    for path in ["/ops", "/ops/sign-in"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[actix_web::test]
async fn an_operator_signs_in_with_the_token_and_retries_and_discards_dead_jobs() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let (app, stripe) = ops_app(|s| s.queue.retry.max_attempts = 1).await;
    stripe.fail_always_on("POST", "/v1/subscriptions", Fault::Status(503));
    let offer = app.discount_offer().await;
    let first = dead_application(&app, offer, "sub_1").await;
    let second = dead_application(&app, offer, "sub_1").await;

    let b = Browser::start(&driver).await;
    b.goto(&format!("{}/ops", app.address)).await;
    b.until_path("/ops/sign-in").await;
    scan(&b, "the operators' sign-in").await;
    type_into(&b, "#token", "not the token at all, but long enough").await;
    click(&b, "form[action='/ops/sign-in'] button").await;
    b.until(
        "refused",
        "return document.body.textContent.includes('That is not the operator token.')",
    )
    .await;
    type_into(&b, "#token", ADMIN_TOKEN).await;
    click(&b, "form[action='/ops/sign-in'] button").await;
    b.until_path("/ops").await;
    b.until("the dead jobs are listed", &format!(
        "const t = document.querySelector('#dead-jobs'); return !!t && t.textContent.includes('apply_offer:{first}') && t.textContent.includes('apply_offer:{second}') && t.textContent.includes('503');"
    )).await;
    b.until(
        "the organization is listed",
        "return document.querySelector('#organizations').textContent.includes('Acme')",
    )
    .await;
    b.until("the queue shows the dead jobs", "return [...document.querySelectorAll('#queue tr')].some(r => r.textContent.includes('apply_offer') && r.children[4].textContent === '2')").await;
    scan(&b, "the operators' page").await;

    // A form stripped of its CSRF token: refused, the job still dead.
    b.run(&format!("document.querySelector(\"form[action='/ops/dead/apply_offer:{second}/discard'] input[name=csrf]\").remove(); return true;")).await;
    click(
        &b,
        &format!("form[action='/ops/dead/apply_offer:{second}/discard'] button"),
    )
    .await;
    b.until(
        "refused",
        "return document.body.textContent.includes('Form refused')",
    )
    .await;
    let (_, stats) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(stats["total"]["dead"], 2, "{stats}");

    // Retry one, discard the other.
    b.goto(&format!("{}/ops", app.address)).await;
    b.until_loaded().await;
    click(
        &b,
        &format!("form[action='/ops/dead/apply_offer:{first}/retry'] button"),
    )
    .await;
    b.until(
        "retried",
        &format!("return !document.body.textContent.includes('apply_offer:{first}')"),
    )
    .await;
    click(
        &b,
        &format!("form[action='/ops/dead/apply_offer:{second}/discard'] button"),
    )
    .await;
    b.until(
        "discarded",
        "return document.body.textContent.includes('0 dead jobs')",
    )
    .await;
    let (_, stats) = admin(&app, Method::GET, "/api/v1/admin/queue", None).await;
    assert_eq!(stats["total"]["dead"], 0, "{stats}");
    assert_eq!(app.application(second).await["status"], "failed");

    click(&b, "form[action='/ops/sign-out'] button").await;
    b.until_path("/ops/sign-in").await;
    b.goto(&format!("{}/ops", app.address)).await;
    b.until_path("/ops/sign-in").await;
    b.close().await;
}

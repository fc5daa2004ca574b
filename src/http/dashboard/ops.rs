//! The operators' page (`/ops`), signed in with the operator token (`admin.token`): the queue
//! by kind (depth, oldest ready job's wait, retries), dead jobs with their error and
//! organization (retry, discard), organizations (their keys: `ops_keys`). The same AdminDesk
//! messages as the operator API. Without an operator token, `/ops` does not exist (404).
use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};

use super::layout::alert;
use super::session::{cookie, csrf_matches, set_cookie_on, CSRF_FIELD};
use super::{page, see_other, PageError};
use crate::actors::admin_desk::{
    DeadJobAction, DeadJobs, ListOrganizations, PageRequest, QueueFigures, SettleDeadJob,
};
use crate::actors::Actors;
use crate::config::Settings;
use crate::domain::member::{csrf_token, fresh_token, is_token};
use crate::domain::operator_session::{
    is_operator_token, operator_session, operator_session_valid, OPERATOR_SESSION_SECONDS,
};

const OPS_COOKIE: &str = "saveloops_ops";
const OPS_PRESESSION: &str = "saveloops_ops_presession";

fn admin_token(settings: &Settings) -> Result<&str, PageError> {
    let token = settings.admin.token.as_str();
    if token.is_empty() {
        Err(PageError::NotFound("Not found.".into()))
    } else {
        Ok(token)
    }
}

/// The operator's session cookie, when it is valid: its value (the CSRF secret).
pub(super) fn operator(
    req: &HttpRequest,
    settings: &Settings,
    actors: &Actors,
) -> Result<String, PageError> {
    let token = admin_token(settings)?;
    let now = actors.clock.now().timestamp();
    cookie(req, OPS_COOKIE)
        .filter(|value| operator_session_valid(token, value, now))
        .ok_or(PageError::OperatorSignInRequired)
}

/// The operator's session of a form's POST, refused without the form's CSRF token.
pub(super) fn operator_form(
    req: &HttpRequest,
    form: &HashMap<String, String>,
    settings: &Settings,
    actors: &Actors,
) -> Result<String, PageError> {
    let session = operator(req, settings, actors)?;
    if csrf_matches(&session, form) {
        Ok(session)
    } else {
        Err(PageError::Csrf)
    }
}

pub(super) fn shell(title: &str, session: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Saveloops operators" }
                link rel="stylesheet" href="/app/assets/app.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Saveloops operators" }
                    @if let Some(session) = session {
                        div.who {
                            form method="post" action="/ops/sign-out" {
                                input type="hidden" name=(CSRF_FIELD) value=(csrf_token(session));
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { h1 { (title) } (body) }
            }
        }
    }
}

fn sign_in_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    message: Option<&str>,
) -> HttpResponse {
    let (presession, set) = match cookie(req, OPS_PRESESSION).filter(|t| is_token(t)) {
        Some(token) => (token, None),
        None => {
            let token = fresh_token();
            let set = set_cookie_on(req, "/ops", OPS_PRESESSION, &token, Some(3600));
            (token, Some(set))
        }
    };
    let body = html! {
        (alert(message))
        form.stack method="post" action="/ops/sign-in" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf_token(&presession));
            label for="token" { span { "Operator token" } }
            input #token type="password" name="token" autocomplete="current-password" required;
            button type="submit" { "Sign in" }
        }
    };
    let mut builder = HttpResponse::build(status);
    if let Some(set) = set {
        builder.append_header((header::SET_COOKIE, set));
    }
    page(builder, shell("Sign in", None, body))
}

pub(super) async fn sign_in_form(
    req: HttpRequest,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, PageError> {
    admin_token(&settings)?;
    Ok(sign_in_page(&req, actix_web::http::StatusCode::OK, None))
}

pub(super) async fn sign_in(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let token = admin_token(&settings)?;
    let presession = cookie(&req, OPS_PRESESSION).unwrap_or_default();
    if presession.is_empty() || !csrf_matches(&presession, &form) {
        return Err(PageError::Csrf);
    }
    let typed = form.get("token").map(String::as_str).unwrap_or("");
    if !is_operator_token(token, typed) {
        return Ok(sign_in_page(
            &req,
            actix_web::http::StatusCode::UNAUTHORIZED,
            Some("That is not the operator token."),
        ));
    }
    let expires = actors.clock.now().timestamp() + OPERATOR_SESSION_SECONDS;
    let value = operator_session(token, expires);
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ops"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .append_header((
            header::SET_COOKIE,
            set_cookie_on(
                &req,
                "/ops",
                OPS_COOKIE,
                &value,
                Some(OPERATOR_SESSION_SECONDS),
            ),
        ))
        .append_header((
            header::SET_COOKIE,
            set_cookie_on(&req, "/ops", OPS_PRESESSION, "", None),
        ))
        .finish())
}

pub(super) async fn sign_out(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    operator_form(&req, &form, &settings, &actors)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/ops/sign-in"))
        .append_header((
            header::SET_COOKIE,
            set_cookie_on(&req, "/ops", OPS_COOKIE, "", None),
        ))
        .finish())
}

fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.0} s"),
        Some(s) if s < 7200.0 => format!("{:.0} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

/// The queue, dead jobs and organizations.
pub(super) async fn overview(
    req: HttpRequest,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let session = operator(&req, &settings, &actors)?;
    let stats = actors
        .admin
        .send(QueueFigures {
            max_age: std::time::Duration::ZERO,
        })
        .await??;
    let first = PageRequest {
        page: 1,
        per_page: 100,
    };
    let dead = actors.admin.send(DeadJobs(first)).await??;
    let organizations = actors.admin.send(ListOrganizations(first)).await??;
    let csrf = csrf_token(&session);
    let body = html! {
        h2 { "Queue" }
        div.table-wrap { table #queue {
            caption.muted { "Jobs by kind" }
            thead { tr {
                th scope="col" { "Kind" } th.num scope="col" { "Ready" } th.num scope="col" { "Scheduled" }
                th.num scope="col" { "In flight" } th.num scope="col" { "Dead" } th.num scope="col" { "Oldest ready" }
                th.num scope="col" { "Retries" }
            } }
            tbody {
                @for (kind, k) in stats.kinds.iter().map(|(kind, k)| (kind.as_str(), k)).chain([("total", &stats.total)]) {
                    tr {
                        th scope="row" { (kind) }
                        td.num { (k.ready) } td.num { (k.scheduled) } td.num { (k.in_flight) }
                        td.num { (k.dead) } td.num { (age(k.oldest_due_age_seconds)) } td.num { (k.retries_total) }
                    }
                }
            }
        } }
        h2 { "Dead jobs" }
        p.muted { (dead.total) " dead jobs" }
        @if !dead.data.is_empty() {
            div.table-wrap { table #dead-jobs {
                caption.muted { "Most recently died first" }
                thead { tr {
                    th scope="col" { "Job" } th scope="col" { "Organization" } th.num scope="col" { "Attempts" }
                    th scope="col" { "Error" } th scope="col" { "Died" } th scope="col" { "Action" }
                } }
                tbody { @for d in &dead.data { tr {
                    td { (d.job.id) }
                    td { @match d.organization_id { Some(id) => (id), None => "–" } }
                    td.num { (d.job.attempts) }
                    td { (d.job.last_error.clone().unwrap_or_default()) }
                    td { (d.job.died_at.format("%Y-%m-%d %H:%M UTC")) }
                    td {
                        form method="post" action={ "/ops/dead/" (d.job.id) "/retry" } {
                            input type="hidden" name=(CSRF_FIELD) value=(csrf);
                            button type="submit" aria-label={ "Retry " (d.job.id) } { "Retry" }
                        }
                        form method="post" action={ "/ops/dead/" (d.job.id) "/discard" } {
                            input type="hidden" name=(CSRF_FIELD) value=(csrf);
                            button type="submit" aria-label={ "Discard " (d.job.id) } { "Discard" }
                        }
                    }
                } } }
            } }
        }
        h2 { "Organizations" }
        div.table-wrap { table #organizations {
            caption.muted { (organizations.total) " organizations, oldest first" }
            thead { tr {
                th scope="col" { "Id" } th scope="col" { "Name" } th.num scope="col" { "Active keys" }
                th scope="col" { "Stripe key" } th scope="col" { "Created" }
            } }
            tbody { @for o in &organizations.data { tr {
                td { (o.id) }
                td { a href={ "/ops/organizations/" (o.id) } { (o.name) } }
                td.num { (o.active_keys) }
                td { @if o.stripe_configured { "stored" } @else { "not set" } }
                td { (o.created_at.format("%Y-%m-%d")) }
            } } }
        } }
    };
    Ok(page(
        HttpResponse::Ok(),
        shell("Operations", Some(&session), body),
    ))
}

/// Retry or discard a dead job.
pub(super) async fn settle(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    operator_form(&req, &form, &settings, &actors)?;
    let (id, action) = path.into_inner();
    let action = match action.as_str() {
        "retry" => DeadJobAction::Retry,
        "discard" => DeadJobAction::Discard,
        _ => return Err(PageError::NotFound("Not found.".into())),
    };
    actors.admin.send(SettleDeadJob { id, action }).await??;
    Ok(see_other("/ops"))
}

//! Signing in and out, and setting a password from a one-time invitation. Before sign-in the
//! forms carry the CSRF token of a pre-session cookie; after, the session's.
use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::layout::{alert, bare_with};
use super::session::{
    cookie, csrf_matches, set_cookie, Member, CSRF_FIELD, PRESESSION_COOKIE, SESSION_COOKIE,
};
use super::{page, see_other, PageError};
use crate::actors::member_desk::{
    AcceptInvitation, FindInvitation, MemberView, SignIn, SignInOutcome, SignOut,
};
use crate::actors::Actors;
use crate::domain::member::{
    csrf_token, fresh_token, is_token, password_problem, SESSION_LIFETIME, THROTTLE_WINDOW,
};

/// The pre-session token of the request, or a fresh one with the cookie that sets it.
fn presession(req: &HttpRequest) -> (String, Option<String>) {
    match cookie(req, PRESESSION_COOKIE).filter(|t| is_token(t)) {
        Some(token) => (token, None),
        None => {
            let token = fresh_token();
            let set = set_cookie(req, PRESESSION_COOKIE, &token, Some(3600));
            (token, Some(set))
        }
    }
}

fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(String::as_str).unwrap_or("")
}

fn sign_in_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    message: Option<&str>,
    notice: Option<&str>,
    email: &str,
) -> HttpResponse {
    let (token, set) = presession(req);
    let body = bare_with(
        "Sign in",
        html! {
            (alert(message))
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            form.stack method="post" action="/app/sign-in" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf_token(&token));
                label for="email" { span { "Email" } }
                input #email type="email" name="email" autocomplete="username" required value=(email);
                label for="password" { span { "Password" } }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    );
    let mut builder = HttpResponse::build(status);
    if let Some(set) = set {
        builder.append_header((header::SET_COOKIE, set));
    }
    page(builder, body)
}

/// The sign-in form.
pub(super) async fn form(req: HttpRequest) -> HttpResponse {
    let notice = req
        .query_string()
        .contains("password=set")
        .then_some("Your password is set. Sign in with it.");
    sign_in_page(&req, actix_web::http::StatusCode::OK, None, notice, "")
}

/// Signs in: a session cookie and to the overview; wrong credentials answered 401, too many
/// failures for the account or the address 429.
pub(super) async fn submit(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let presession = cookie(&req, PRESESSION_COOKIE).unwrap_or_default();
    if presession.is_empty() || !csrf_matches(&presession, &form) {
        return Err(PageError::Csrf);
    }
    let email = field(&form, "email").trim().to_owned();
    let outcome = actors
        .members
        .send(SignIn {
            email: email.clone(),
            password: field(&form, "password").to_owned(),
            client_address: super::session::client_address(&req),
        })
        .await??;
    use actix_web::http::StatusCode;
    Ok(match outcome {
        SignInOutcome::SignedIn(signed_in) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/app"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .append_header((
                header::SET_COOKIE,
                set_cookie(
                    &req,
                    SESSION_COOKIE,
                    &signed_in.session_token,
                    Some(SESSION_LIFETIME.num_seconds()),
                ),
            ))
            .append_header((
                header::SET_COOKIE,
                set_cookie(&req, PRESESSION_COOKIE, "", None),
            ))
            .finish(),
        SignInOutcome::Refused => sign_in_page(
            &req,
            StatusCode::UNAUTHORIZED,
            Some("These credentials do not match our records."),
            None,
            &email,
        ),
        SignInOutcome::Throttled => sign_in_page(
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            Some(&format!(
                "Too many failed sign-ins. Try again in {} minutes.",
                THROTTLE_WINDOW.num_minutes()
            )),
            None,
            &email,
        ),
    })
}

/// Signs out: the session is deleted and the cookie cleared.
pub(super) async fn sign_out(
    req: HttpRequest,
    member: Member,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.check_csrf(&form)?;
    actors
        .members
        .send(SignOut {
            token: member.session_token.clone(),
        })
        .await??;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/app/sign-in"))
        .append_header((
            header::SET_COOKIE,
            set_cookie(&req, SESSION_COOKIE, "", None),
        ))
        .finish())
}

fn invalid_invitation() -> PageError {
    PageError::NotFound(
        "This invitation link is not valid: it was used already, or it expired. Ask an owner for a new one."
            .into(),
    )
}

fn invitation_page(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    token: &str,
    email: &str,
    message: Option<&str>,
) -> HttpResponse {
    let (presession, set) = presession(req);
    let body = bare_with(
        "Set your password",
        html! {
            p { "You were invited to the Saveloops dashboard as " strong { (email) } "." }
            (alert(message))
            form.stack method="post" action={ "/app/invite/" (token) } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf_token(&presession));
                input type="hidden" name="username" autocomplete="username" value=(email);
                label for="password" { span { "New password (at least 10 characters)" } }
                input #password type="password" name="password" autocomplete="new-password" required minlength="10";
                label for="confirmation" { span { "Repeat the password" } }
                input #confirmation type="password" name="password_confirmation" autocomplete="new-password" required minlength="10";
                button type="submit" { "Set password" }
            }
        },
    );
    let mut builder = HttpResponse::build(status);
    if let Some(set) = set {
        builder.append_header((header::SET_COOKIE, set));
    }
    page(builder, body)
}

/// The member a one-time link invites, or the page saying the link is not (or no longer)
/// valid.
async fn invited_member(actors: &Actors, token: &str) -> Result<MemberView, PageError> {
    if !is_token(token) {
        return Err(invalid_invitation());
    }
    actors
        .members
        .send(FindInvitation {
            token: token.to_owned(),
        })
        .await??
        .ok_or_else(invalid_invitation)
}

/// The one-time link: a form to set the password.
pub(super) async fn invitation(
    req: HttpRequest,
    token: web::Path<String>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let member = invited_member(&actors, &token).await?;
    Ok(invitation_page(
        &req,
        actix_web::http::StatusCode::OK,
        &token,
        &member.email,
        None,
    ))
}

/// Sets the password (the invitation is spent) and sends the member to sign in.
pub(super) async fn accept(
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let presession = cookie(&req, PRESESSION_COOKIE).unwrap_or_default();
    if presession.is_empty() || !csrf_matches(&presession, &form) {
        return Err(PageError::Csrf);
    }
    let member = invited_member(&actors, &token).await?;
    let password = field(&form, "password");
    let problem = password_problem(password).or_else(|| {
        (password != field(&form, "password_confirmation"))
            .then(|| "The password confirmation does not match.".to_owned())
    });
    if let Some(problem) = problem {
        return Ok(invitation_page(
            &req,
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            &member.email,
            Some(&problem),
        ));
    }
    let accepted = actors
        .members
        .send(AcceptInvitation {
            token: token.clone(),
            password: password.to_owned(),
        })
        .await??;
    if !accepted {
        return Err(invalid_invitation());
    }
    Ok(see_other("/app/sign-in?password=set"))
}

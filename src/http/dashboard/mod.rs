//! The team's dashboard (`/app`): server-rendered pages (maud) for an organization's members,
//! signed in with a session cookie. Not part of the JSON API: these routes are not in
//! `routes::ROUTES` and not in the OpenAPI description; they answer HTML. Every page sends
//! a strict Content-Security-Policy (no inline script or style), and every POST checks the
//! form's CSRF token.
mod experiment_page;
mod experiments;
mod forms;
mod layout;
mod members;
mod offer_form;
mod offers;
mod ops;
mod ops_keys;
mod overview;
mod session;
mod settings;
mod sign_in;
mod signing_secrets;
mod ticket_webhook;
mod tickets;

use actix_web::http::{header, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse, HttpResponseBuilder, ResponseError};
use maud::Markup;

use crate::actors::Failure;

pub use session::{CSRF_FIELD, PRESESSION_COOKIE, SESSION_COOKIE};

/// The stylesheet, compiled in: what is served is what was tested.
const APP_CSS: &str = include_str!("assets/app.css");

/// What every page answers with, besides its body.
const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Why a page could not be shown, each answered as a page.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No session, or an expired one: to the sign-in form.
    #[error("Sign in to continue.")]
    SignInRequired,
    /// No valid operator session: to the operators' sign-in form.
    #[error("Sign in with the operator token.")]
    OperatorSignInRequired,
    #[error("This page is for the organization's owners.")]
    OwnersOnly,
    #[error("The form expired or did not come from this site. Reload the page and try again.")]
    Csrf,
    #[error("{0}")]
    NotFound(String),
    #[error("Something went wrong on our side. Try again in a moment.")]
    Unexpected(String),
}

impl From<Failure> for PageError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotFound(message) => PageError::NotFound(message),
            other => PageError::Unexpected(other.to_string()),
        }
    }
}

impl From<actix::MailboxError> for PageError {
    fn from(error: actix::MailboxError) -> Self {
        PageError::Unexpected(error.to_string())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignInRequired | PageError::OperatorSignInRequired => StatusCode::SEE_OTHER,
            PageError::OwnersOnly | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let sign_in = match self {
            PageError::SignInRequired => Some("/app/sign-in"),
            PageError::OperatorSignInRequired => Some("/ops/sign-in"),
            _ => None,
        };
        if let Some(location) = sign_in {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        if let PageError::Unexpected(detail) = self {
            tracing::error!(error = %detail, "a dashboard page failed");
        }
        let title = match self {
            PageError::OwnersOnly => "Not allowed",
            PageError::Csrf => "Form refused",
            PageError::NotFound(_) => "Not found",
            _ => "Error",
        };
        page(
            HttpResponse::build(self.status_code()),
            layout::bare(title, &self.to_string()),
        )
    }
}

/// An HTML answer with the dashboard's headers.
pub(super) fn page(mut builder: HttpResponseBuilder, body: Markup) -> HttpResponse {
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(body.into_string())
}

/// A redirect after a POST (303: the browser GETs the location).
pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(APP_CSS)
}

/// Serves the dashboard's pages under `/app`, one resource per path, each catching its
/// handlers' panics (wrapped per resource, like the API's routes: a scope-wide wrap would hold
/// the request while the scope still routes it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let catch = || from_fn(super::middleware::catch_panics);
    cfg.service(
        web::scope("/app")
            .service(
                web::resource(["", "/"])
                    .route(web::get().to(overview::overview))
                    .wrap(catch()),
            )
            .service(
                web::resource("/assets/app.css")
                    .route(web::get().to(stylesheet))
                    .wrap(catch()),
            )
            .service(
                web::resource("/sign-in")
                    .route(web::get().to(sign_in::form))
                    .route(web::post().to(sign_in::submit))
                    .wrap(catch()),
            )
            .service(
                web::resource("/sign-out")
                    .route(web::post().to(sign_in::sign_out))
                    .wrap(catch()),
            )
            .service(
                web::resource("/tickets")
                    .route(web::get().to(tickets::inbox))
                    .wrap(catch()),
            )
            .service(
                web::resource("/members")
                    .route(web::get().to(members::list))
                    .route(web::post().to(members::add))
                    .wrap(catch()),
            )
            .service(
                web::resource("/settings")
                    .route(web::get().to(settings::settings))
                    .route(web::post().to(settings::save))
                    .wrap(catch()),
            )
            .service(
                web::resource("/settings/ticket-webhook")
                    .route(web::post().to(ticket_webhook::set))
                    .wrap(catch()),
            )
            .service(
                web::resource("/settings/signing-secrets")
                    .route(web::post().to(signing_secrets::create))
                    .wrap(catch()),
            )
            .service(
                web::resource("/settings/signing-secrets/{kid}/revoke")
                    .route(web::post().to(signing_secrets::revoke))
                    .wrap(catch()),
            )
            .service(
                web::resource("/members/{id}/{action}")
                    .route(web::get().to(members::confirm))
                    .route(web::post().to(members::change))
                    .wrap(catch()),
            )
            .service(
                web::resource("/invite/{token}")
                    .route(web::get().to(sign_in::invitation))
                    .route(web::post().to(sign_in::accept))
                    .wrap(catch()),
            )
            .service(
                web::resource("/offers")
                    .route(web::get().to(offers::list))
                    .wrap(catch()),
            )
            .service(
                web::resource("/offers/new")
                    .route(web::get().to(offers::new))
                    .route(web::post().to(offers::create))
                    .wrap(catch()),
            )
            .service(
                web::resource("/offers/{id}")
                    .route(web::get().to(offers::offer))
                    .route(web::post().to(offers::change))
                    .wrap(catch()),
            )
            .service(
                web::resource("/experiments")
                    .route(web::get().to(experiments::list))
                    .wrap(catch()),
            )
            .service(
                web::resource("/experiments/new")
                    .route(web::get().to(experiments::new))
                    .route(web::post().to(experiments::create))
                    .wrap(catch()),
            )
            .service(
                web::resource("/experiments/{id}")
                    .route(web::get().to(experiment_page::experiment))
                    .route(web::post().to(experiment_page::change))
                    .wrap(catch()),
            )
            .service(
                web::resource("/tickets/{id}")
                    .route(web::get().to(tickets::ticket))
                    .route(web::post().to(tickets::work))
                    .wrap(catch()),
            ),
    );
    cfg.service(
        web::scope("/ops")
            .service(
                web::resource(["", "/"])
                    .route(web::get().to(ops::overview))
                    .wrap(catch()),
            )
            .service(
                web::resource("/sign-in")
                    .route(web::get().to(ops::sign_in_form))
                    .route(web::post().to(ops::sign_in))
                    .wrap(catch()),
            )
            .service(
                web::resource("/sign-out")
                    .route(web::post().to(ops::sign_out))
                    .wrap(catch()),
            )
            .service(
                web::resource("/organizations/{id}")
                    .route(web::get().to(ops_keys::keys))
                    .wrap(catch()),
            )
            .service(
                web::resource("/organizations/{id}/keys")
                    .route(web::post().to(ops_keys::create))
                    .wrap(catch()),
            )
            .service(
                web::resource("/organizations/{id}/keys/{prefix}/revoke")
                    .route(web::post().to(ops_keys::revoke))
                    .wrap(catch()),
            )
            .service(
                web::resource("/dead/{id}/{action}")
                    .route(web::post().to(ops::settle))
                    .wrap(catch()),
            ),
    );
}

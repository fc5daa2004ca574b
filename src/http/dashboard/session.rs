//! Who is signed in to the dashboard: the session cookie, the member it belongs to (asked of
//! the MemberDesk), the CSRF token every form carries, and the cookie's attributes.
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use super::PageError;
use crate::actors::member_desk::{FindSession, MemberView};
use crate::actors::Actors;
use crate::config::Settings;
use crate::domain::member::{csrf_token, Role};

/// The cookie that holds a signed-in member's session token.
pub const SESSION_COOKIE: &str = "saveloops_session";
/// Before sign-in: a random token whose derived CSRF token the sign-in and invitation forms
/// carry (so that nobody can sign a browser in to their own account behind its back).
pub const PRESESSION_COOKIE: &str = "saveloops_presession";
/// The hidden field every form carries.
pub const CSRF_FIELD: &str = "csrf";

/// The value of one cookie of the request.
pub(super) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Whether the request came over TLS (to this process, or to the proxy in front of it).
fn over_tls(req: &HttpRequest) -> bool {
    let forwarded = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded || req.connection_info().scheme() == "https"
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, scoped to `/app`, Secure over TLS.
/// `max_age` None deletes the cookie.
pub(super) fn set_cookie(
    req: &HttpRequest,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> String {
    set_cookie_on(req, "/app", name, value, max_age)
}

/// As [`set_cookie`], scoped to `path`.
pub(super) fn set_cookie_on(
    req: &HttpRequest,
    path: &str,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> String {
    let secure = if over_tls(req) { "; Secure" } else { "" };
    let age = max_age.unwrap_or(0);
    format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={age}{secure}")
}

/// The client's network address, which failed sign-ins count against.
pub(super) fn client_address(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<web::Data<Settings>>()
        .is_some_and(|s| s.dashboard.trust_forwarded_for);
    if trusted {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_owned();
        }
    }
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether the form's CSRF field is the one `secret` (a session or pre-session token) gives.
pub(super) fn csrf_matches(secret: &str, form: &HashMap<String, String>) -> bool {
    let expected = csrf_token(secret);
    form.get(CSRF_FIELD)
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())))
}

/// The member signed in with the request's session cookie; a page that takes one sends
/// everybody else to the sign-in form.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) view: MemberView,
    /// The session's token (the cookie), to sign out.
    pub(super) session_token: String,
    /// What every form of this session carries.
    pub(super) csrf: String,
}

impl Member {
    pub(super) fn role(&self) -> Role {
        self.view.role()
    }

    /// Owner pages: support staff are refused (403).
    pub(super) fn require_owner(&self) -> Result<(), PageError> {
        if self.role().is_owner() {
            Ok(())
        } else {
            Err(PageError::OwnersOnly)
        }
    }

    /// Every POST: the form must carry this session's CSRF token (403 otherwise).
    pub(super) fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), PageError> {
        if csrf_matches(&self.session_token, form) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }
}

impl FromRequest for Member {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<Member, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = cookie(req, SESSION_COOKIE);
        let actors = req.app_data::<web::Data<Actors>>().cloned();
        Box::pin(async move {
            let (Some(token), Some(actors)) = (token, actors) else {
                return Err(PageError::SignInRequired);
            };
            let found = actors
                .members
                .send(FindSession { token })
                .await
                .map_err(|e| PageError::Unexpected(e.to_string()))?
                .map_err(PageError::from)?;
            let signed_in = found.ok_or(PageError::SignInRequired)?;
            Ok(Member {
                csrf: signed_in.csrf_token,
                session_token: signed_in.session_token,
                view: signed_in.member,
            })
        })
    }
}

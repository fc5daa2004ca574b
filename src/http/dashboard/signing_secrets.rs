//! The cancel flow's signing secrets from the settings page (owners only): create one (its
//! secret shown this once, as the API answers it) and revoke one. The same SessionDesk
//! messages as `/api/v1/signing-secrets`, so the two-active limit reads the same.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::session::Member;
use super::settings::{settings_page, Shown};
use super::PageError;
use crate::actors::session_desk::ManageSigningSecrets;
use crate::actors::{Actors, Failure};

/// Creates a signing secret and shows it once.
pub(super) async fn create(
    member: Member,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let created = actors
        .sessions
        .send(ManageSigningSecrets::Create {
            organization_id: member.view.organization_id,
        })
        .await?;
    let refused;
    let shown_now = match created {
        Ok(created) => Shown {
            notice: Some(html! {
                p { "Created " (created["kid"].as_str().unwrap_or_default())
                    ". Put this secret in your backend now: it is shown only this once." }
                p { code #new-signing-secret { (created["secret"].as_str().unwrap_or_default()) } }
            }),
            ..Shown::plain()
        },
        Err(Failure::Refused(message)) => {
            refused = message;
            Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: Some(&refused),
                ..Shown::plain()
            }
        }
        Err(other) => return Err(other.into()),
    };
    settings_page(&member, &req, &actors, shown_now).await
}

/// Revokes a signing secret: tokens it signed are refused from then on.
pub(super) async fn revoke(
    member: Member,
    req: HttpRequest,
    kid: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let kid = kid.into_inner();
    actors
        .sessions
        .send(ManageSigningSecrets::Revoke {
            organization_id: member.view.organization_id,
            kid: kid.clone(),
        })
        .await??;
    let shown_now = Shown {
        notice: Some(html! { p { "Revoked " (kid) "." } }),
        ..Shown::plain()
    };
    settings_page(&member, &req, &actors, shown_now).await
}

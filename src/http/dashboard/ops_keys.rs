//! An organization's API keys on the operators' page (`/ops/organizations/{id}`): each key's
//! prefix, when it was made and whether it was revoked (never a secret); a new key, shown
//! this once; revoking one, after which the API refuses it. The same AdminDesk messages as
//! the operator API (`/api/v1/admin/organizations/{id}/keys`, `/api/v1/admin/keys/{prefix}`).
use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::ops::{operator, operator_form, shell};
use super::session::CSRF_FIELD;
use super::{page, see_other, PageError};
use crate::actors::admin_desk::{CreateKey, OrganizationKeys, RevokeKey};
use crate::actors::Actors;
use crate::config::Settings;
use crate::domain::member::csrf_token;

fn organization_id(raw: &str) -> Result<i64, PageError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| PageError::NotFound(format!("Organization {raw} not found.")))
}

async fn keys_page(
    session: &str,
    actors: &Actors,
    organization_id: i64,
    created: Option<Markup>,
) -> Result<HttpResponse, PageError> {
    let (organization, keys) = actors
        .admin
        .send(OrganizationKeys { organization_id })
        .await??;
    let csrf = csrf_token(session);
    let body = html! {
        p { a href="/ops" { "All organizations" } }
        @if let Some(created) = created {
            div.notice role="status" { (created) }
        }
        dl.facts {
            dt { "Organization" } dd { (organization.name) " (" (organization.id) ")" }
            dt { "Active keys" } dd { (organization.active_keys) }
            dt { "Stripe key" } dd { @if organization.stripe_configured { "stored" } @else { "not set" } }
        }
        h2 { "API keys" }
        div.table-wrap { table #keys {
            caption.muted { "Newest first; the secret part is never shown again" }
            thead { tr {
                th scope="col" { "Prefix" } th scope="col" { "Created" } th scope="col" { "State" }
                th scope="col" { "Action" }
            } }
            tbody { @for k in &keys { tr {
                td { code { (k.prefix) } }
                td { (k.created_at.format("%Y-%m-%d %H:%M UTC")) }
                td { @match k.revoked_at {
                    Some(at) => { "revoked " (at.format("%Y-%m-%d %H:%M UTC")) },
                    None => "active",
                } }
                td { @if k.revoked_at.is_none() {
                    form method="post" action={ "/ops/organizations/" (organization.id) "/keys/" (k.prefix) "/revoke" } {
                        input type="hidden" name=(CSRF_FIELD) value=(csrf);
                        button type="submit" aria-label={ "Revoke " (k.prefix) } { "Revoke" }
                    }
                } }
            } } }
        } }
        form method="post" action={ "/ops/organizations/" (organization.id) "/keys" } {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            button type="submit" { "Create a key" }
        }
    };
    Ok(page(
        HttpResponse::Ok(),
        shell(
            &format!("Keys of {}", organization.name),
            Some(session),
            body,
        ),
    ))
}

/// An organization's keys.
pub(super) async fn keys(
    req: HttpRequest,
    id: web::Path<String>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let session = operator(&req, &settings, &actors)?;
    keys_page(&session, &actors, organization_id(&id)?, None).await
}

/// A new key, shown this once.
pub(super) async fn create(
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let session = operator_form(&req, &form, &settings, &actors)?;
    let organization_id = organization_id(&id)?;
    let created = actors.admin.send(CreateKey { organization_id }).await??;
    let shown = html! {
        p { "Created key " code { (created.key_prefix) } ". Copy it now: it is shown only this once." }
        p { code #new-api-key { (created.api_key) } }
    };
    keys_page(&session, &actors, organization_id, Some(shown)).await
}

/// Revokes a key: the API refuses it from then on.
pub(super) async fn revoke(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
    settings: web::Data<Settings>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    operator_form(&req, &form, &settings, &actors)?;
    let (id, prefix) = path.into_inner();
    let organization_id = organization_id(&id)?;
    actors.admin.send(RevokeKey { prefix }).await??;
    Ok(see_other(&format!("/ops/organizations/{organization_id}")))
}

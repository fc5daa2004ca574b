//! The settings page's ticket webhook form (owners only): where the organization's tickets
//! are delivered, through the TicketDesk (the rule is `domain::ticket::parse_ticket_webhook`,
//! the CLI's too). A new signing secret comes with every change, shown this once.
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::layout::csrf_field;
use super::session::Member;
use super::settings::{error_list, field_errors, settings_page, Shown};
use super::PageError;
use crate::actors::ticket_desk::SetTicketWebhook;
use crate::actors::{Actors, Failure};
use crate::domain::validation::ValidationErrors;

/// The form as typed (url, format) and why it was refused.
pub(super) type Refused = (String, String, ValidationErrors);

/// The form: the current URL and format, or what was typed and why it was refused.
pub(super) fn ticket_webhook_form(
    member: &Member,
    url: &str,
    format: &str,
    errors: Option<&ValidationErrors>,
) -> Markup {
    let url_errors = field_errors(errors, "url");
    let format_errors = field_errors(errors, "format");
    html! {
        form.stack #ticket-webhook-form method="post" action="/app/settings/ticket-webhook" novalidate {
            (csrf_field(member))
            label for="ticket-url" {
                span { "Deliver new tickets to (an http(s) URL)" }
                @if url_errors.is_empty() {
                    input #ticket-url type="url" name="url" value=(url);
                } @else {
                    input #ticket-url type="url" name="url" value=(url) aria-invalid="true"
                        aria-describedby="ticket-url-error";
                }
            }
            (error_list("ticket-url-error", &url_errors))
            label for="ticket-format" {
                span { "Format" }
                select #ticket-format name="format" {
                    option value="json" selected[format != "slack"] { "JSON (signed)" }
                    option value="slack" selected[format == "slack"] { "Slack incoming webhook" }
                }
            }
            (error_list("ticket-format-error", &format_errors))
            button type="submit" { "Save the ticket webhook" }
        }
    }
}

/// Saves the ticket webhook (owners only); a refused form changes nothing.
pub(super) async fn set(
    member: Member,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    member.require_owner()?;
    member.check_csrf(&form)?;
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let (url, format) = (field("url"), field("format"));
    let set = actors
        .tickets
        .send(SetTicketWebhook {
            organization_id: member.view.organization_id,
            url: url.clone(),
            format: format.clone(),
        })
        .await?;
    let summary;
    let shown_now = match set {
        Ok(secret) => Shown {
            notice: Some(html! {
                p { "Ticket webhook saved. Check deliveries with this signing secret: it is shown only this once." }
                p { code #new-ticket-webhook-secret { (secret) } }
            }),
            ..Shown::plain()
        },
        Err(Failure::Invalid(errors)) => {
            summary = format!("The ticket webhook was not saved. {}", errors.summary());
            Shown {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: Some(&summary),
                ticket_webhook: Some((url, format, errors)),
                ..Shown::plain()
            }
        }
        Err(other) => return Err(other.into()),
    };
    settings_page(&member, &req, &actors, shown_now).await
}

//! The dashboard's shared layout: a skip link, the navigation (owner pages only for owners),
//! the signed-in member and the sign-out form; and the bare layout of pages before sign-in.
use maud::{html, Markup, DOCTYPE};

use super::session::{Member, CSRF_FIELD};

/// Which navigation entry the page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Overview,
    Tickets,
    Offers,
    Experiments,
    Members,
    Settings,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Saveloops" }
            link rel="stylesheet" href="/app/assets/app.css";
        }
    }
}

/// The hidden CSRF field of a signed-in member's form.
pub(super) fn csrf_field(member: &Member) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(member.csrf); }
}

/// A page for a signed-in member.
pub(super) fn signed_in(member: &Member, section: Section, title: &str, body: Markup) -> Markup {
    let entries: Vec<(Section, &str, &str)> = [
        (Section::Overview, "/app", "Overview"),
        (Section::Tickets, "/app/tickets", "Tickets"),
        (Section::Offers, "/app/offers", "Offers"),
        (Section::Experiments, "/app/experiments", "Experiments"),
        (Section::Members, "/app/members", "Members"),
        (Section::Settings, "/app/settings", "Settings"),
    ]
    .into_iter()
    .filter(|(s, _, _)| {
        matches!(s, Section::Overview | Section::Tickets) || member.role().is_owner()
    })
    .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Saveloops" }
                    nav aria-label="Main" {
                        ul {
                            @for (s, href, label) in &entries {
                                li {
                                    @if *s == section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (member.view.email) " (" (member.view.role) ")" }
                        form method="post" action="/app/sign-out" {
                            (csrf_field(member))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without navigation: sign-in, invitation, errors.
pub(super) fn bare_with(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top { span.brand { "Saveloops" } }
                main #main.narrow tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An error or notice page.
pub(super) fn bare(title: &str, message: &str) -> Markup {
    bare_with(
        title,
        html! {
            p role="alert" { (message) }
            p { a href="/app" { "Back to the dashboard" } }
        },
    )
}

/// Field errors and notices above a form.
pub(super) fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.alert role="alert" { (message) }
        }
    }
}

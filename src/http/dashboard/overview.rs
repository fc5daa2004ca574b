//! The overview: what the cancel flow saved over a period the member picks (the analytics
//! summary the JSON API serves), with saves by day drawn server-side as SVG.
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::TimeDelta;
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{alert, signed_in, Section};
use super::session::Member;
use super::{page, PageError};
use crate::actors::analytics::{
    end_of_today, parse_bound, DayFigures, Figures, Period, Summarize, Summary,
};
use crate::actors::Actors;
use crate::http::query::Query;
use crate::http::routes::analytics::{DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS};

fn rate(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

fn money(value: &Value) -> String {
    match value.as_f64() {
        Some(amount) => format!("{amount:.2}"),
        None => "0.00".to_owned(),
    }
}

/// Saves by day as bars, with each day's number in its bar's title. No script, no inline
/// style: presentation comes from app.css.
fn saves_chart(days: &[DayFigures]) -> Markup {
    let (width, height) = (720.0_f64, 200.0_f64);
    let (left, bottom, top) = (36.0, 24.0, 10.0);
    let most = days
        .iter()
        .map(|d| d.figures.saves)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_width = width - left - 4.0;
    let plot_height = height - bottom - top;
    let slot = plot_width / days.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let total: u64 = days.iter().map(|d| d.figures.saves).sum();
    let label = format!(
        "Saves by day: {total} saves over {} days, at most {most} in a day.",
        days.len()
    );
    let axis_y = height - bottom;
    let n = |x: f64| format!("{x:.1}");
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (width) " " (height) } role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" {
                title #chart-title { (label) }
                line.axis x1=(left) y1=(axis_y) x2=(width - 4.0) y2=(axis_y) {}
                text x=(left - 4.0) y=(top + 8.0) text-anchor="end" { (most) }
                text x=(left - 4.0) y=(axis_y) text-anchor="end" { "0" }
                @for (i, day) in days.iter().enumerate() {
                    @let h = plot_height * day.figures.saves as f64 / most as f64;
                    rect.bar x=(n(left + slot * i as f64 + (slot - bar) / 2.0)) y=(n(axis_y - h)) width=(n(bar)) height=(n(h)) {
                        title { (day.date) ": " (day.figures.saves) " saves" }
                    }
                }
                @if let (Some(first), Some(last)) = (days.first(), days.last()) {
                    text x=(left) y=(height - 6.0) { (first.date) }
                    text x=(width - 4.0) y=(height - 6.0) text-anchor="end" { (last.date) }
                }
            }
            figcaption.muted { (label) }
        }
    }
}

fn figures_cells(f: &Figures) -> Markup {
    html! {
        td.num { (f.impressions) } td.num { (f.saves) } td.num { (f.abandons) }
        td.num { (rate(f.save_rate)) } td.num { (money(&f.saved_mrr)) }
    }
}

fn figures_head(first: &str) -> Markup {
    html! {
        thead { tr {
            th scope="col" { (first) } th.num scope="col" { "Impressions" } th.num scope="col" { "Saves" }
            th.num scope="col" { "Abandons" } th.num scope="col" { "Save rate" } th.num scope="col" { "Saved MRR" }
        } }
    }
}

fn counts(caption: &str, rows: &[crate::actors::analytics::Count]) -> Markup {
    html! {
        div.table-wrap {
            table {
                caption { (caption) }
                thead { tr { th scope="col" { "Value" } th.num scope="col" { "Reasons" } } }
                tbody {
                    @for c in rows {
                        tr { td { (c.value.clone().unwrap_or_else(|| "unknown".into())) } td.num { (c.count) } }
                    }
                }
            }
        }
    }
}

fn summary_body(s: &Summary) -> Markup {
    let v = &s.save_validation;
    html! {
        dl.cards #totals {
            div { dt { "Save rate" } dd #save-rate { (rate(s.totals.save_rate)) } }
            div { dt { "Saves" } dd #saves { (s.totals.saves) } }
            div { dt { "Impressions" } dd #impressions { (s.totals.impressions) } }
            div { dt { "Saves held" } dd #saves-held { (v.held) } }
            div { dt { "Saves lost" } dd #saves-lost { (v.lost) } }
            div { dt { "Retained MRR" } dd #retained-mrr { (money(&v.retained_mrr)) } }
            div { dt { "Dunning recovery" } dd #dunning-recovery { (rate(s.dunning.recovery_rate)) " (" (s.dunning.recovered) "/" (s.dunning.flagged) ")" } }
        }
        p.muted { "A save is held or lost after " (v.window_days) " days; " (v.pending) " still pending." }
        h2 { "Saves by day" }
        (saves_chart(&s.by_day))
        h2 { "By offer" }
        div.table-wrap { table {
            (figures_head("Offer"))
            tbody { @for o in &s.by_offer { tr {
                td { (o.label.clone().unwrap_or_else(|| format!("Offer {}", o.offer_id))) }
                (figures_cells(&o.figures))
            } } }
        } }
        h2 { "By target" }
        div.table-wrap { table {
            (figures_head("Target"))
            tbody { @for t in &s.by_target { tr {
                td { (t.target_id.clone().unwrap_or_else(|| "none".into())) }
                (figures_cells(&t.figures))
            } } }
        } }
        h2 { "Cancellation reasons" }
        p { (s.cancellation_reasons.total) " reasons, " (s.cancellation_reasons.low_confidence) " read with low confidence." }
        (counts("By suggested action", &s.cancellation_reasons.by_suggested_action))
        (counts("By category", &s.cancellation_reasons.by_category))
    }
}

/// `/app`: the overview, for owners and support staff.
pub(super) async fn overview(
    member: Member,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, PageError> {
    let query = Query::of(&req).ok();
    let get = |name: &str| query.as_ref().and_then(|q| q.get(name)).map(str::to_owned);
    let mut problem = None;
    let until = match get("to") {
        Some(raw) => parse_bound(&raw, true).or_else(|| {
            problem = Some("The to date must be a valid date.");
            None
        }),
        None => None,
    }
    .unwrap_or_else(|| end_of_today(actors.clock.now()));
    let from = match get("from") {
        Some(raw) => parse_bound(&raw, false).or_else(|| {
            problem = Some("The from date must be a valid date.");
            None
        }),
        None => None,
    }
    .unwrap_or_else(|| until - TimeDelta::days(DEFAULT_PERIOD_DAYS));
    let (from, until) = if from >= until || until - from > TimeDelta::days(MAX_PERIOD_DAYS) {
        problem = Some("The period must end after it starts and last at most 366 days.");
        (until - TimeDelta::days(DEFAULT_PERIOD_DAYS), until)
    } else {
        (from, until)
    };
    let summary = actors
        .analytics
        .send(Summarize {
            organization_id: member.view.organization_id,
            period: Period { from, until },
            target_id: None,
        })
        .await??;
    let last_day = (until - TimeDelta::microseconds(1)).date_naive();
    let body = html! {
        (alert(problem))
        form.filters method="get" action="/app" aria-label="Period" {
            label for="from" { span { "From" } input #from type="date" name="from" value=(from.date_naive().to_string()); }
            label for="to" { span { "To" } input #to type="date" name="to" value=(last_day.to_string()); }
            button type="submit" { "Show" }
        }
        (summary_body(&summary))
    };
    Ok(page(
        HttpResponse::Ok(),
        signed_in(&member, Section::Overview, "Overview", body),
    ))
}

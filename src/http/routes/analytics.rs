//! What an organization's cancel flow saved, read with its own key.
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::TimeDelta;

use crate::actors::analytics::{end_of_today, parse_bound, Period, Summarize, Summary};
use crate::actors::Actors;
use crate::http::docs::{KeyedErrors, Message, Unprocessable};
use crate::http::errors::ApiError;
use crate::http::extract::Tenant;
use crate::http::query::Query;

/// The longest period one summary covers (its `by_day` has one entry per day).
pub const MAX_PERIOD_DAYS: i64 = 366;
/// The period when none is given.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// Impressions, saves, abandons, save rate and saved MRR over a period, by offer, target,
/// trigger and day; cancellation reasons by suggested action and category; dunning recovery.
///
/// `from` and `to` are RFC 3339 timestamps or `YYYY-MM-DD` days (UTC), both inclusive; the
/// default is the last 30 UTC days, today included. Saves and abandons count once per end user and offer.
#[utoipa::path(get, path = "/api/v1/analytics/summary", tag = "analytics",
    security(("api_key" = [])),
    params(
        ("from" = Option<String>, Query, description = "Start (inclusive): RFC 3339 or YYYY-MM-DD. Default: 30 days before `to` (with neither, the last 30 UTC days, today included)."),
        ("to" = Option<String>, Query, description = "End (inclusive): RFC 3339 or YYYY-MM-DD (the whole day). Default: today (the whole day: nothing is recorded after now)."),
        ("target_id" = Option<String>, Query, description = "Only this target."),
    ),
    responses(
        (status = 200, description = "The summary.", body = Summary),
        (status = 400, description = "The query string could not be read.", body = Message),
        (status = 422, description = "Invalid period.", body = Unprocessable),
        KeyedErrors,
    ))]
pub async fn summary(
    tenant: Tenant,
    req: HttpRequest,
    actors: web::Data<Actors>,
) -> Result<HttpResponse, ApiError> {
    let mut query = Query::of(&req)?;
    let invalid_date =
        |field: &str| format!("The {field} field must be a valid date (RFC 3339 or YYYY-MM-DD).");
    let from = query.get("from").map(|raw| parse_bound(raw, false));
    let until = query.get("to").map(|raw| parse_bound(raw, true));
    if matches!(from, Some(None)) {
        query.errors.add("from", invalid_date("from"));
    }
    if matches!(until, Some(None)) {
        query.errors.add("to", invalid_date("to"));
    }
    let target_id = query.get("target_id").map(str::to_owned);
    if let Some(target) = &target_id {
        if target.chars().count() > 255 {
            query.errors.add(
                "target_id",
                "The target id field must not be greater than 255 characters.",
            );
        } else if target.contains('\0') {
            query.errors.add(
                "target_id",
                "The target id field must not contain NUL characters.",
            );
        }
    }
    let until = until
        .flatten()
        .unwrap_or_else(|| end_of_today(actors.clock.now()));
    let from = from
        .flatten()
        .unwrap_or_else(|| until - TimeDelta::days(DEFAULT_PERIOD_DAYS));
    if query.errors.is_empty() {
        if from >= until {
            query
                .errors
                .add("to", "The to field must be a date after or equal to from.");
        } else if until - from > TimeDelta::days(MAX_PERIOD_DAYS) {
            query.errors.add(
                "to",
                format!("The to field must be within {MAX_PERIOD_DAYS} days of from."),
            );
        }
    }
    query.finish()?;
    let summary = actors
        .analytics
        .send(Summarize {
            organization_id: tenant.organization_id,
            period: Period { from, until },
            target_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(summary))
}

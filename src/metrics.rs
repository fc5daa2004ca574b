//! Prometheus metrics, served by `GET /metrics` in the text exposition format.
//!
//! Counters and histograms of events (HTTP requests, jobs, Stripe calls, tickets) live in one
//! process-wide registry: call the functions of this module from anywhere. Queue depth is not
//! an event: it is read from the queue (`Queue::stats`) when `/metrics` is scraped, at most
//! every `metrics.queue_sample_seconds`, and rendered from that reading (see
//! [`render`]), so a scrape never walks the queue more often than that.
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use workers::{Job, QueueObserver, QueueStats};

use crate::actors::readiness::ReadinessReport;

/// Latency buckets (seconds) for HTTP requests and Stripe calls.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

struct Families {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    jobs_started: IntCounterVec,
    jobs_succeeded: IntCounterVec,
    jobs_retried: IntCounterVec,
    jobs_failed: IntCounterVec,
    jobs_dead: IntCounterVec,
    job_duration: HistogramVec,
    stripe_requests: IntCounterVec,
    stripe_duration: HistogramVec,
    tickets: IntCounterVec,
    rate_limited: IntCounterVec,
    panics: IntCounterVec,
    stripe_events: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let family = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
    registry
        .register(Box::new(family.clone()))
        .expect("unique metric");
    family
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let family = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid histogram");
    registry
        .register(Box::new(family.clone()))
        .expect("unique metric");
    family
}

fn families() -> &'static Families {
    static FAMILIES: OnceLock<Families> = OnceLock::new();
    FAMILIES.get_or_init(Families::new)
}

impl Families {
    fn new() -> Families {
        let r = Registry::new();
        let families = Families {
            http_requests: counter(
                &r,
                "saveloops_http_requests_total",
                "HTTP requests answered, by method, route pattern and status.",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                &r,
                "saveloops_http_request_duration_seconds",
                "Time to answer an HTTP request, by method and route pattern.",
                &["method", "route"],
                LATENCY_BUCKETS,
            ),
            jobs_started: counter(
                &r,
                "saveloops_jobs_started_total",
                "Queue jobs a worker of this process started, by kind.",
                &["kind"],
            ),
            jobs_succeeded: counter(
                &r,
                "saveloops_jobs_succeeded_total",
                "Queue jobs that succeeded, by kind.",
                &["kind"],
            ),
            jobs_retried: counter(
                &r,
                "saveloops_jobs_retried_total",
                "Queue jobs that failed transiently and were scheduled again, by kind.",
                &["kind"],
            ),
            jobs_failed: counter(
                &r,
                "saveloops_jobs_failed_total",
                "Queue jobs that failed permanently (dropped without retry), by kind.",
                &["kind"],
            ),
            jobs_dead: counter(
                &r,
                "saveloops_jobs_dead_total",
                "Queue jobs moved to the dead letters, by kind.",
                &["kind"],
            ),
            job_duration: histogram(
                &r,
                "saveloops_job_duration_seconds",
                "Run time of successful jobs, by kind.",
                &["kind"],
                LATENCY_BUCKETS,
            ),
            stripe_requests: counter(
                &r,
                "saveloops_stripe_requests_total",
                "Requests sent to Stripe, by operation and outcome (success, transient, permanent).",
                &["operation", "outcome"],
            ),
            stripe_duration: histogram(
                &r,
                "saveloops_stripe_request_duration_seconds",
                "Time Stripe took to answer, by operation and outcome.",
                &["operation", "outcome"],
                LATENCY_BUCKETS,
            ),
            tickets: counter(
                &r,
                "saveloops_tickets_total",
                "Support tickets, by event (created, delivered, failed).",
                &["event"],
            ),
            rate_limited: counter(
                &r,
                "saveloops_rate_limited_total",
                "Requests refused with 429 by the per-key rate limit.",
                &["route"],
            ),
            panics: counter(
                &r,
                "saveloops_panics_total",
                "Panics caught and answered as errors, by where (http: a request's handler; actor: an actor's work).",
                &["where"],
            ),
            stripe_events: counter(
                &r,
                "saveloops_stripe_events_total",
                "Stripe webhook events received with a valid signature, by effect (unhandled: a type nobody handles) and delivery (applied, superseded by a newer event, duplicate).",
                &["effect", "delivery"],
            ),
            registry: r,
        };
        families.export_known_series();
        families
    }
}

impl Families {
    /// Every series whose labels are known in advance is exported from the start, at zero,
    /// as Prometheus' instrumentation guidelines advise: a dashboard or an alert then sees 0
    /// rather than nothing, and `rate()` works from the first event.
    fn export_known_series(&self) {
        for operation in crate::stripe::client::Operation::ALL {
            for outcome in StripeOutcome::ALL {
                let labels = [operation.as_str(), outcome.as_str()];
                self.stripe_requests.with_label_values(&labels);
                self.stripe_duration.with_label_values(&labels);
            }
        }
        for kind in crate::jobs::JOB_KINDS {
            for family in [
                &self.jobs_started,
                &self.jobs_succeeded,
                &self.jobs_retried,
                &self.jobs_failed,
                &self.jobs_dead,
            ] {
                family.with_label_values(&[kind]);
            }
            self.job_duration.with_label_values(&[kind]);
        }
        for event in TICKET_EVENTS {
            self.tickets.with_label_values(&[event]);
        }
        for place in PANIC_PLACES {
            self.panics.with_label_values(&[place]);
        }
        for effect in crate::domain::stripe_event::Effect::ALL {
            for delivery in STRIPE_EVENT_DELIVERIES {
                self.stripe_events
                    .with_label_values(&[effect.as_str(), delivery]);
            }
        }
        // Only keyed routes are rate limited (see `extract::Tenant`).
        for endpoint in crate::http::routes::ROUTES {
            if endpoint.keyed() {
                self.rate_limited.with_label_values(&[endpoint.path]);
            }
        }
    }
}

/// Where a panic can be caught (see `panic_caught`).
const PANIC_PLACES: [&str; 2] = ["http", "actor"];

/// What can happen to a support ticket.
const TICKET_EVENTS: [&str; 3] = ["created", "delivered", "failed"];

/// An answered HTTP request. `route` is the matched route pattern (`/api/v1/offers/{id}`),
/// never the raw path, so the number of series stays bounded.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let f = families();
    f.http_requests
        .with_label_values(&[method, route, &status.to_string()])
        .inc();
    f.http_duration
        .with_label_values(&[method, route])
        .observe(elapsed.as_secs_f64());
}

/// How a Stripe request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeOutcome {
    Success,
    /// Worth retrying: network error, timeout, 409, 429, 5xx.
    Transient,
    /// Stripe refused for good.
    Permanent,
}

impl StripeOutcome {
    const ALL: [StripeOutcome; 3] = [
        StripeOutcome::Success,
        StripeOutcome::Transient,
        StripeOutcome::Permanent,
    ];

    fn as_str(self) -> &'static str {
        match self {
            StripeOutcome::Success => "success",
            StripeOutcome::Transient => "transient",
            StripeOutcome::Permanent => "permanent",
        }
    }
}

/// One request to Stripe. `operation` is a fixed name (`update_subscription`, ...).
pub fn stripe_request(operation: &'static str, outcome: StripeOutcome, elapsed: Duration) {
    let f = families();
    f.stripe_requests
        .with_label_values(&[operation, outcome.as_str()])
        .inc();
    f.stripe_duration
        .with_label_values(&[operation, outcome.as_str()])
        .observe(elapsed.as_secs_f64());
}

/// A support ticket was opened.
pub fn ticket_created() {
    families().tickets.with_label_values(&["created"]).inc();
}

/// A support ticket reached support staff.
pub fn ticket_delivered() {
    families().tickets.with_label_values(&["delivered"]).inc();
}

/// A support ticket could not be delivered (for good, or for this attempt).
pub fn ticket_failed() {
    families().tickets.with_label_values(&["failed"]).inc();
}

/// A panic was caught and answered as an error: `where` is `http` or `actor`.
pub fn panic_caught(place: &'static str) {
    debug_assert!(PANIC_PLACES.contains(&place));
    families().panics.with_label_values(&[place]).inc();
}

/// What became of a Stripe event's delivery (see `stripe_event`).
pub const STRIPE_EVENT_DELIVERIES: [&str; 3] = ["applied", "superseded", "duplicate"];

/// A signed Stripe event was stored: `effect` is what it does here (`unhandled` for a type
/// nobody handles), `delivery` one of `STRIPE_EVENT_DELIVERIES`.
pub fn stripe_event(effect: &'static str, delivery: &'static str) {
    debug_assert!(STRIPE_EVENT_DELIVERIES.contains(&delivery));
    families()
        .stripe_events
        .with_label_values(&[effect, delivery])
        .inc();
}

/// A request was refused by the rate limit.
pub fn rate_limited(route: &str) {
    families().rate_limited.with_label_values(&[route]).inc();
}

/// Feeds the job counters from the worker runtime (`WorkerPool::with_observer`).
#[derive(Debug, Default, Clone, Copy)]
pub struct JobMetrics;

impl QueueObserver for JobMetrics {
    fn job_started(&self, job: &Job) {
        families()
            .jobs_started
            .with_label_values(&[&job.kind])
            .inc();
    }

    fn job_succeeded(&self, job: &Job, elapsed: Duration) {
        let f = families();
        f.jobs_succeeded.with_label_values(&[&job.kind]).inc();
        f.job_duration
            .with_label_values(&[&job.kind])
            .observe(elapsed.as_secs_f64());
    }

    fn job_retried(&self, job: &Job, _delay: Duration, _error: &str) {
        families()
            .jobs_retried
            .with_label_values(&[&job.kind])
            .inc();
    }

    fn job_failed(&self, job: &Job, _error: &str) {
        families().jobs_failed.with_label_values(&[&job.kind]).inc();
    }

    fn job_dead(&self, job: &Job, _error: &str) {
        families().jobs_dead.with_label_values(&[&job.kind]).inc();
    }
}

/// The observer to attach to a worker pool.
pub fn job_observer() -> Arc<dyn QueueObserver> {
    Arc::new(JobMetrics)
}

/// Queue figures as gauges, for one scrape. `known_kinds` are always exported (as 0 when
/// empty) so that a kind's series do not vanish when its queue drains.
fn queue_families(stats: &QueueStats, known_kinds: &[&str]) -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let jobs = IntGaugeVec::new(
        Opts::new(
            "saveloops_queue_jobs",
            "Jobs in the queue, by kind and state (ready, scheduled, in_flight, dead).",
        ),
        &["kind", "state"],
    )?;
    let oldest = GaugeVec::new(
        Opts::new(
            "saveloops_queue_oldest_due_age_seconds",
            "How long the longest-waiting ready job has been due, by kind (0 when none is ready).",
        ),
        &["kind"],
    )?;
    let retries = IntGaugeVec::new(
        Opts::new(
            "saveloops_queue_retries_recorded",
            "Retries the queue has scheduled since it was created, by kind (all processes).",
        ),
        &["kind"],
    )?;
    registry.register(Box::new(jobs.clone()))?;
    registry.register(Box::new(oldest.clone()))?;
    registry.register(Box::new(retries.clone()))?;
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut kinds: Vec<(&str, workers::KindStats)> = known_kinds
        .iter()
        .map(|kind| (*kind, stats.kind(kind)))
        .collect();
    for (kind, figures) in &stats.kinds {
        if !known_kinds.contains(&kind.as_str()) {
            kinds.push((kind.as_str(), figures.clone()));
        }
    }
    for (kind, figures) in kinds {
        for (state, n) in [
            ("ready", figures.ready),
            ("scheduled", figures.scheduled),
            ("in_flight", figures.in_flight),
            ("dead", figures.dead),
        ] {
            jobs.with_label_values(&[kind, state]).set(clamp(n));
        }
        oldest
            .with_label_values(&[kind])
            .set(figures.oldest_due_age_seconds.unwrap_or(0.0));
        retries
            .with_label_values(&[kind])
            .set(clamp(figures.retries_total));
    }
    Ok(registry)
}

/// The whole exposition: the process's counters plus the queue reading (None when the
/// queue could not be read; `saveloops_queue_up` then says 0).
/// `cached_end_users`: how many end users this instance's cache holds (None when the
/// DunningTracker did not answer). `readiness`: what `/ready` would say (None when the check
/// did not answer: `saveloops_ready` is then 0).
pub fn render(
    queue: Option<&QueueStats>,
    known_kinds: &[&str],
    cached_end_users: Option<usize>,
    readiness: Option<&ReadinessReport>,
) -> String {
    let mut metric_families = families().registry.gather();
    let up = prometheus::IntGauge::new(
        "saveloops_queue_up",
        "1 when the last queue reading succeeded.",
    )
    .expect("valid gauge");
    up.set(i64::from(queue.is_some()));
    let scrape = Registry::new();
    scrape.register(Box::new(up)).expect("unique metric");
    if let Some(entries) = cached_end_users {
        let cached = prometheus::IntGauge::new(
            "saveloops_end_user_cache_entries",
            "End users held in this instance's cache, warmed at start with the newest (one held in both of its generations counts twice).",
        )
        .expect("valid gauge");
        cached.set(i64::try_from(entries).unwrap_or(i64::MAX));
        scrape.register(Box::new(cached)).expect("unique metric");
    }
    register_readiness(&scrape, readiness);
    metric_families.extend(scrape.gather());
    if let Some(stats) = queue {
        match queue_families(stats, known_kinds) {
            Ok(registry) => metric_families.extend(registry.gather()),
            Err(e) => tracing::error!(error = %e, "could not build the queue metrics"),
        }
    }
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metric_families, &mut out) {
        tracing::error!(error = %e, "could not encode the metrics");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `saveloops_ready` (what `/ready` answers, as 1 or 0) and `saveloops_dependency_up` by
/// dependency, so that an alert need not probe `/ready` itself.
fn register_readiness(scrape: &Registry, readiness: Option<&ReadinessReport>) {
    let ready = prometheus::IntGauge::new(
        "saveloops_ready",
        "1 when GET /ready would answer 200: every dependency answers.",
    )
    .expect("valid gauge");
    ready.set(i64::from(readiness.is_some_and(ReadinessReport::is_ready)));
    scrape.register(Box::new(ready)).expect("unique metric");
    let dependencies = IntGaugeVec::new(
        Opts::new(
            "saveloops_dependency_up",
            "1 when the dependency (database; redis when the queue lives there) answered the readiness check.",
        ),
        &["dependency"],
    )
    .expect("valid gauge");
    if let Some(report) = readiness {
        let mut checks = vec![("database", &report.database)];
        if let Some(redis) = &report.redis {
            checks.push(("redis", redis));
        }
        for (name, check) in checks {
            dependencies
                .with_label_values(&[name])
                .set(i64::from(check.is_ok()));
        }
    }
    scrape
        .register(Box::new(dependencies))
        .expect("unique metric");
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    /// A family's name, a sample's labels and its value.
    type Sample = (String, Vec<(String, String)>, f64);

    /// The value of each counter sample (a histogram's count), by family and labels.
    fn samples(families: &Families) -> Vec<Sample> {
        let mut out = Vec::new();
        for family in families.registry.gather() {
            let histogram = family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM;
            for m in family.get_metric() {
                let labels = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_owned(), l.value().to_owned()))
                    .collect();
                let value = if histogram {
                    m.get_histogram().get_sample_count() as f64
                } else {
                    m.get_counter().get_value()
                };
                out.push((family.name().to_owned(), labels, value));
            }
        }
        out
    }

    #[test]
    fn every_known_series_is_exported_at_zero_before_any_event() {
        let fresh = Families::new();
        let samples = samples(&fresh);
        let has = |name: &str, labels: &[(&str, &str)]| {
            samples.iter().any(|(n, l, v)| {
                n == name
                    && *v == 0.0
                    && labels
                        .iter()
                        .all(|(k, want)| l.iter().any(|(lk, lv)| lk == k && lv == want))
            })
        };
        for operation in crate::stripe::client::Operation::ALL {
            for outcome in ["success", "transient", "permanent"] {
                let labels = [("operation", operation.as_str()), ("outcome", outcome)];
                assert!(
                    has("saveloops_stripe_requests_total", &labels),
                    "{labels:?}"
                );
                assert!(has("saveloops_stripe_request_duration_seconds", &labels));
            }
        }
        for kind in ["apply_offer", "deliver_ticket"] {
            for event in ["started", "succeeded", "retried", "failed", "dead"] {
                let name = format!("saveloops_jobs_{event}_total");
                assert!(has(&name, &[("kind", kind)]), "{name} {kind}");
            }
            assert!(has("saveloops_job_duration_seconds", &[("kind", kind)]));
        }
        for event in ["created", "delivered", "failed"] {
            assert!(has("saveloops_tickets_total", &[("event", event)]));
        }
        for place in ["http", "actor"] {
            assert!(has("saveloops_panics_total", &[("where", place)]));
        }
        assert!(has(
            "saveloops_rate_limited_total",
            &[("route", "/api/v1/intercept")]
        ));
        assert!(!has(
            "saveloops_rate_limited_total",
            &[("route", "/api/v1/admin/queue")]
        ));
        // Nothing but zeros: no event happened.
        assert!(samples.iter().all(|(_, _, v)| *v == 0.0));
    }
}

//! Issue 33: the rollups the writes keep answer what a recomputation from the raw rows
//! answers. Randomized traffic through the public API (seeded: the seed is printed, and
//! `SAVELOOPS_TEST_SEED` replays one), with the test clock moved between requests: outcomes
//! before and after intercepts, duplicates, anonymous outcomes, an experiment, reasons,
//! dunning, and Stripe cancellations. The summary and the experiment results are compared
//! with a recomputation in this test from the stored rows (by the README's rules), and with
//! their answers after `saveloops analytics rebuild`.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{json, Value};

use crate::cli::saveloops_cli;
use crate::helpers::{parts, TestApp};

const USERS: usize = 14;
const TARGETS: [&str; 4] = ["cancel-btn", "pricing", "exp-target", "settings"];
const TRIGGERS: [Option<&str>; 4] = [Some("click"), Some("exit_intent"), Some("hover"), None];
const REASONS: [&str; 8] = [
    "Too expensive for what we use",
    "We are switching to a competitor",
    "The app keeps crashing and I lost data",
    "Just taking a break for the summer",
    "asdf",
    "Zu teuer für unser kleines Team",
    "Missing the integrations we need",
    "Je n'utilise plus le service",
];

fn email(user: usize) -> String {
    format!("r{user}@example.com")
}

/// Figures of one slice: impressions, saves, abandons, saved MRR (ten-thousandths).
type Four = (u64, u64, u64, i64);

fn e4(value: &Value) -> i64 {
    (value.as_f64().unwrap_or(0.0) * 10_000.0).round() as i64
}

fn four(v: &Value) -> Four {
    (
        v["impressions"].as_u64().unwrap(),
        v["saves"].as_u64().unwrap(),
        v["abandons"].as_u64().unwrap(),
        e4(&v["saved_mrr"]),
    )
}

/// The parts of a summary the rollups answer, comparable with a recomputation.
#[derive(Debug, Default, PartialEq)]
struct Figures {
    totals: Four,
    by_offer: BTreeMap<i64, Four>,
    by_target: BTreeMap<Option<String>, Four>,
    by_trigger: BTreeMap<Option<String>, Four>,
    by_day: BTreeMap<String, Four>,
    reasons: (u64, u64),
    by_action: BTreeMap<Option<String>, u64>,
    by_category: BTreeMap<Option<String>, u64>,
    by_language: BTreeMap<Option<String>, u64>,
    /// held, lost, pending, retained MRR.
    validation: (u64, u64, u64, i64),
}

fn keyed(list: &Value, key: &str) -> BTreeMap<Option<String>, Four> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| (e[key].as_str().map(str::to_owned), four(e)))
        .collect()
}

fn counts(list: &Value) -> BTreeMap<Option<String>, u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["value"].as_str().map(str::to_owned),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn from_answer(s: &Value) -> Figures {
    let v = &s["save_validation"];
    Figures {
        totals: four(s),
        by_offer: s["by_offer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["offer_id"].as_i64().unwrap(), four(e)))
            .collect(),
        by_target: keyed(&s["by_target"], "target_id"),
        by_trigger: keyed(&s["by_trigger"], "trigger"),
        by_day: s["by_day"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| four(e) != (0, 0, 0, 0))
            .map(|e| (e["date"].as_str().unwrap().to_owned(), four(e)))
            .collect(),
        reasons: (
            s["cancellation_reasons"]["total"].as_u64().unwrap(),
            s["cancellation_reasons"]["low_confidence"]
                .as_u64()
                .unwrap(),
        ),
        by_action: counts(&s["cancellation_reasons"]["by_suggested_action"]),
        by_category: counts(&s["cancellation_reasons"]["by_category"]),
        by_language: counts(&s["cancellation_reasons"]["by_language"]),
        validation: (
            v["held"].as_u64().unwrap(),
            v["lost"].as_u64().unwrap(),
            v["pending"].as_u64().unwrap(),
            e4(&v["retained_mrr"]),
        ),
    }
}

/// A counted outcome, its MRR and its (target, trigger).
type Decision<'a> = (
    &'a entity::outcome::Model,
    i64,
    (Option<String>, Option<String>),
);

/// The stored rows, read once.
struct Rows {
    impressions: Vec<entity::impression::Model>,
    outcomes: Vec<entity::outcome::Model>,
    reasons: Vec<entity::cancellation_reason::Model>,
    assignments: Vec<entity::experiment_assignment::Model>,
    offer_targets: HashMap<i64, Option<String>>,
    /// When each end user's subscription was deleted or set to cancel.
    cancellations: HashMap<i64, Vec<DateTime<Utc>>>,
}

impl Rows {
    async fn read(app: &TestApp, cancellations: HashMap<i64, Vec<DateTime<Utc>>>) -> Rows {
        let org = app.organization_id;
        let mut impressions = entity::impression::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        impressions.retain(|i| i.organization_id == org);
        let mut outcomes = entity::outcome::Entity::find().all(&app.db).await.unwrap();
        outcomes.retain(|o| o.organization_id == org);
        let mut reasons = entity::cancellation_reason::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        reasons.retain(|r| r.organization_id == org);
        let assignments = entity::experiment_assignment::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        let offer_targets = entity::offer::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.id, o.target_id))
            .collect();
        Rows {
            impressions,
            outcomes,
            reasons,
            assignments,
            offer_targets,
            cancellations,
        }
    }

    /// An outcome's target and trigger: its end user's latest intercept at or before it and
    /// at most 24 hours before it; else its offer's target, trigger unknown.
    fn attribution(&self, o: &entity::outcome::Model) -> (Option<String>, Option<String>) {
        let seen = o.end_user_id.and_then(|user| {
            self.impressions
                .iter()
                .filter(|i| {
                    i.end_user_id == Some(user)
                        && i.created_at <= o.created_at
                        && i.created_at >= o.created_at - Duration::hours(24)
                })
                .max_by_key(|i| (i.created_at, i.id))
        });
        match seen {
            Some(i) => (Some(i.target_id.clone()), i.trigger.clone()),
            None => (self.offer_targets.get(&o.offer_id).cloned().flatten(), None),
        }
    }

    /// The counted outcomes: each known end user's first record per offer and status (at
    /// the largest MRR of its records), and every anonymous one. (outcome, MRR, attribution)
    fn decisions(&self) -> Vec<Decision<'_>> {
        let mut firsts: HashMap<(i64, i64, String), (&entity::outcome::Model, i64)> =
            HashMap::new();
        let mut out = Vec::new();
        for o in &self.outcomes {
            let mrr = o.mrr_e4.unwrap_or(0);
            match o.end_user_id {
                None => out.push((o, mrr, self.attribution(o))),
                Some(user) => {
                    let entry = firsts
                        .entry((user, o.offer_id, o.status.clone()))
                        .or_insert((o, mrr));
                    if (o.created_at, o.id) < (entry.0.created_at, entry.0.id) {
                        entry.0 = o;
                    }
                    entry.1 = entry.1.max(mrr);
                }
            }
        }
        for (o, mrr) in firsts.into_values() {
            out.push((o, mrr, self.attribution(o)));
        }
        out
    }

    fn lost(&self, user: i64, saved_at: DateTime<Utc>, window: Duration) -> bool {
        self.cancellations.get(&user).is_some_and(|times| {
            times
                .iter()
                .any(|at| *at >= saved_at && *at < saved_at + window)
        })
    }

    /// The summary of `[from, until)` as the README states it.
    fn summary(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        target: Option<&str>,
        now: DateTime<Utc>,
    ) -> Figures {
        let mut f = Figures::default();
        let within = |at: DateTime<Utc>| at >= from && at < until;
        let day = |at: DateTime<Utc>| at.date_naive().to_string();
        let add = |slot: &mut Four, x: Four| {
            slot.0 += x.0;
            slot.1 += x.1;
            slot.2 += x.2;
            slot.3 += x.3;
        };
        for i in &self.impressions {
            if !within(i.created_at) || target.is_some_and(|t| t != i.target_id) {
                continue;
            }
            let one = (1, 0, 0, 0);
            add(&mut f.totals, one);
            add(
                f.by_target.entry(Some(i.target_id.clone())).or_default(),
                one,
            );
            add(f.by_trigger.entry(i.trigger.clone()).or_default(), one);
            add(f.by_day.entry(day(i.created_at)).or_default(), one);
            let shown: Vec<i64> = serde_json::from_str(&i.offer_ids).unwrap();
            for offer in shown {
                add(f.by_offer.entry(offer).or_default(), one);
            }
        }
        for (o, mrr, (t, trigger)) in self.decisions() {
            if !within(o.created_at) || target.is_some_and(|x| Some(x) != t.as_deref()) {
                continue;
            }
            let x = if o.status == "saved" {
                (0, 1, 0, mrr)
            } else {
                (0, 0, 1, 0)
            };
            add(&mut f.totals, x);
            add(f.by_offer.entry(o.offer_id).or_default(), x);
            add(f.by_target.entry(t).or_default(), x);
            add(f.by_trigger.entry(trigger).or_default(), x);
            add(f.by_day.entry(day(o.created_at)).or_default(), x);
        }
        for r in &self.reasons {
            if !within(r.created_at) || target.is_some_and(|t| Some(t) != r.target_id.as_deref()) {
                continue;
            }
            f.reasons.0 += 1;
            if r.confidence < 0.6 {
                f.reasons.1 += 1;
            }
            *f.by_action
                .entry(Some(r.suggested_action.clone()))
                .or_default() += 1;
            *f.by_category.entry(Some(r.category.clone())).or_default() += 1;
            *f.by_language.entry(r.language.clone()).or_default() += 1;
        }
        // Save validation: not filtered by target.
        let window = Duration::days(30);
        for (o, mrr, _) in self.decisions() {
            let Some(user) = o.end_user_id else { continue };
            if o.status != "saved" || !within(o.created_at) {
                continue;
            }
            if self.lost(user, o.created_at, window) {
                f.validation.1 += 1;
            } else if now >= o.created_at + window {
                f.validation.0 += 1;
                f.validation.3 += mrr;
            } else {
                f.validation.2 += 1;
            }
        }
        f.by_day.retain(|_, v| *v != (0, 0, 0, 0));
        f
    }

    /// Per arm: impressions, exposures, saves, saved MRR, held saves.
    fn experiment(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, (u64, u64, u64, i64, u64)> {
        let mut arms: BTreeMap<String, (u64, u64, u64, i64, u64)> = BTreeMap::new();
        for i in &self.impressions {
            if let (Some(e), Some(arm)) = (i.experiment_id, &i.experiment_arm) {
                if e == id {
                    arms.entry(arm.clone()).or_default().0 += 1;
                }
            }
        }
        for a in self.assignments.iter().filter(|a| a.experiment_id == id) {
            arms.entry(a.arm.clone()).or_default().1 += 1;
        }
        let mut known: HashMap<(String, i64), (DateTime<Utc>, i64)> = HashMap::new();
        for o in &self.outcomes {
            let (Some(e), Some(arm)) = (o.experiment_id, &o.experiment_arm) else {
                continue;
            };
            if e != id || o.status != "saved" {
                continue;
            }
            let mrr = o.mrr_e4.unwrap_or(0);
            match o.end_user_id {
                None => {
                    let slot = arms.entry(arm.clone()).or_default();
                    slot.2 += 1;
                    slot.3 += mrr;
                }
                Some(user) => {
                    let first = known
                        .entry((arm.clone(), user))
                        .or_insert((o.created_at, mrr));
                    first.0 = first.0.min(o.created_at);
                    first.1 = first.1.max(mrr);
                }
            }
        }
        let window = Duration::days(30);
        for ((arm, user), (at, mrr)) in known {
            let slot = arms.entry(arm).or_default();
            slot.2 += 1;
            slot.3 += mrr;
            if !self.lost(user, at, window) && now >= at + window {
                slot.4 += 1;
            }
        }
        // The answer caps saves at exposures (an anonymous save has no exposure).
        for slot in arms.values_mut() {
            slot.2 = slot.2.min(slot.1);
        }
        arms
    }
}

fn experiment_answer(results: &Value) -> BTreeMap<String, (u64, u64, u64, i64, u64)> {
    results["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                (
                    a["impressions"].as_u64().unwrap(),
                    a["exposures"].as_u64().unwrap(),
                    a["saves"].as_u64().unwrap(),
                    e4(&a["saved_mrr"]),
                    a["held_saves"].as_u64().unwrap(),
                ),
            )
        })
        .filter(|(_, v)| *v != (0, 0, 0, 0, 0))
        .collect()
}

async fn ok(response: reqwest::Response) -> Value {
    let (status, body) = parts(response).await;
    assert!(status == 200 || status == 201, "{status}: {body}");
    body
}

/// Records a cancellation for an end user as Stripe's stored events do (cancellations are
/// read as they are, not rolled up): the end user gets a Stripe customer, and the event.
async fn cancel(app: &TestApp, user: i64, n: usize, at: DateTime<Utc>) {
    let customer = format!("cus_rollup_{user}");
    let db = &app.db;
    let backend = db.get_database_backend();
    let sql = |s: &str| match backend {
        sea_orm::DatabaseBackend::Postgres => s.to_owned(),
        _ => s.replace('$', "?"),
    };
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql("UPDATE end_users SET stripe_customer_id = $1 WHERE id = $2"),
        [customer.clone().into(), user.into()],
    ))
    .await
    .unwrap();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            "INSERT INTO stripe_events (organization_id, event_id, event_type, event_created, \
                 stripe_customer_id, effect, received_at) \
             VALUES ($1, $2, 'customer.subscription.deleted', $3, $4, 'churned', $3)",
        ),
        [
            app.organization_id.into(),
            format!("evt_rollup_{user}_{n}").into(),
            at.into(),
            customer.into(),
        ],
    ))
    .await
    .unwrap();
}

async fn summary(app: &TestApp, query: &str) -> Value {
    let (status, body) = parts(app.get(&format!("/api/v1/analytics/summary{query}")).await).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn rfc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[actix_web::test]
async fn rollups_answer_as_a_recomputation_from_the_rows_under_randomized_traffic() {
    let seed: u64 = std::env::var("SAVELOOPS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("analytics rollups: seed {seed} (replay with SAVELOOPS_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let clock = app.actors.clock.clone();
    let started = clock.now();
    let mut offers = vec![
        app.offer(
            json!({"type": "discount", "value": 20, "label": "A", "target_id": "cancel-btn"}),
        )
        .await,
        app.offer(json!({"type": "pause", "value": 1, "label": "B", "target_id": "pricing"}))
            .await,
        app.offer(json!({"type": "custom", "value": 0, "label": "C"}))
            .await,
    ];
    let control = app
        .offer(json!({"type": "discount", "value": 10, "label": "D", "active": false}))
        .await;
    let variant = app
        .offer(json!({"type": "pause", "value": 2, "label": "E", "active": false}))
        .await;
    offers.extend([control, variant]);
    let experiment = app
        .experiment(json!({
            "name": "Rollups", "target_id": "exp-target", "status": "running",
            "arms": [
                {"name": "control", "offer_ids": [control], "control": true},
                {"name": "variant", "offer_ids": [variant]}
            ]
        }))
        .await;
    let experiment_id = experiment["id"].as_i64().unwrap();

    let mut sent_outcomes: Vec<Value> = Vec::new();
    for _ in 0..260 {
        let user = (rng.gen_range(0..10) > 1).then(|| rng.gen_range(0..USERS));
        let roll = rng.gen_range(0..100);
        if roll < 38 {
            let mut body = json!({"target_id": TARGETS[rng.gen_range(0..TARGETS.len())]});
            if let Some(trigger) = TRIGGERS[rng.gen_range(0..TRIGGERS.len())] {
                body["trigger"] = json!(trigger);
            }
            if let Some(u) = user {
                body["user_email"] = json!(email(u));
            }
            ok(app.intercept(body).await).await;
        } else if roll < 66 {
            let status = if rng.gen_bool(0.65) {
                "saved"
            } else {
                "abandoned"
            };
            let mut body =
                json!({"offer_id": offers[rng.gen_range(0..offers.len())], "status": status});
            if rng.gen_bool(0.85) {
                body["mrr_value"] = json!(f64::from(rng.gen_range(1..20_000)) / 100.0);
            }
            if let Some(u) = user {
                body["user_email"] = json!(email(u));
            }
            ok(app.outcome(body.clone()).await).await;
            sent_outcomes.push(body);
        } else if roll < 76 && !sent_outcomes.is_empty() {
            // A duplicate, maybe with another MRR (a larger one raises the save's worth).
            let mut body = sent_outcomes[rng.gen_range(0..sent_outcomes.len())].clone();
            if rng.gen_bool(0.5) {
                body["mrr_value"] = json!(f64::from(rng.gen_range(1..30_000)) / 100.0);
            }
            ok(app.outcome(body).await).await;
        } else if roll < 84 {
            let mut body = json!({"reason": REASONS[rng.gen_range(0..REASONS.len())]});
            if rng.gen_bool(0.7) {
                body["target_id"] = json!(TARGETS[rng.gen_range(0..TARGETS.len())]);
            }
            if let Some(u) = user {
                body["user_email"] = json!(email(u));
            }
            ok(app.post("/api/v1/intercept/sentiment", &body).await).await;
        } else if roll < 88 {
            if let Some(u) = user {
                ok(app.dunning(json!({"user_email": email(u)})).await).await;
            }
        } else if roll < 90 {
            if let Some(u) = user {
                ok(app
                    .success_signal(json!({"event": "invoice.paid", "user_email": email(u)}))
                    .await)
                .await;
            }
        } else {
            // Minutes to a day and a half, so that outcomes fall inside and outside their
            // intercepts' 24 hours.
            clock.advance(Duration::seconds(rng.gen_range(420..132_000)));
        }
    }
    // Bursts sent at once, so that one group commit holds several records of one end user,
    // offer and status (with other MRRs), anonymous ones and the arms' offers together; and
    // before them, at the same time, several intercepts of one end user (the latest in a
    // group commit is the one its outcomes are attributed to).
    for _ in 0..6 {
        let mut intercepts = Vec::new();
        for _ in 0..10 {
            let mut body = json!({"target_id": TARGETS[rng.gen_range(0..TARGETS.len())],
                "user_email": email(rng.gen_range(0..4))});
            if let Some(trigger) = TRIGGERS[rng.gen_range(0..TRIGGERS.len())] {
                body["trigger"] = json!(trigger);
            }
            intercepts.push(body);
        }
        for answer in
            futures_util::future::join_all(intercepts.iter().map(|b| app.intercept(b.clone())))
                .await
        {
            ok(answer).await;
        }
        let mut burst = Vec::new();
        for _ in 0..12 {
            let offer = offers[rng.gen_range(0..offers.len())];
            let status = if rng.gen_bool(0.7) {
                "saved"
            } else {
                "abandoned"
            };
            let mut body = json!({"offer_id": offer, "status": status,
                "mrr_value": f64::from(rng.gen_range(1..30_000)) / 100.0});
            if rng.gen_bool(0.85) {
                body["user_email"] = json!(email(rng.gen_range(0..4)));
            }
            burst.push(body);
        }
        for answer in
            futures_util::future::join_all(burst.iter().map(|b| app.outcome(b.clone()))).await
        {
            ok(answer).await;
        }
        clock.advance(Duration::seconds(rng.gen_range(60..40_000)));
    }
    // Cancellations: some end users' subscriptions end at times around their saves.
    let mut cancellations: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
    let known: Vec<entity::end_user::Model> =
        entity::end_user::Entity::find().all(&app.db).await.unwrap();
    let span = clock.now() - started;
    for (n, user) in known.iter().enumerate() {
        if rng.gen_bool(0.4) {
            let offset =
                Duration::seconds(rng.gen_range(-86_400..span.num_seconds() + 40 * 86_400));
            let at = started + offset;
            cancel(&app, user.id, n, at).await;
            cancellations.entry(user.id).or_default().push(at);
        }
    }

    let rows = Rows::read(&app, cancellations).await;
    let now = clock.now();
    let first_day = started.date_naive();
    let last_day = now.date_naive();
    let mut periods: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = vec![(
        format!("?from={first_day}&to={last_day}"),
        first_day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        (last_day + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc(),
    )];
    // Whole seconds: the query's bounds are read to the microsecond.
    let base = DateTime::from_timestamp(started.timestamp(), 0).unwrap();
    for _ in 0..4 {
        let a = base - Duration::hours(2)
            + Duration::minutes(rng.gen_range(0..(span.num_minutes() + 240)));
        let b = a + Duration::minutes(rng.gen_range(1..(span.num_minutes() + 240)));
        periods.push((
            format!("?from={}&to={}", rfc(a), rfc(b)),
            a,
            b + Duration::microseconds(1),
        ));
    }
    let mut compared = Vec::new();
    for (query, from, until) in &periods {
        for target in [None, Some("cancel-btn"), Some("exp-target")] {
            let query = match target {
                Some(t) => format!("{query}&target_id={t}"),
                None => query.clone(),
            };
            let answer = summary(&app, &query).await;
            let expected = rows.summary(*from, *until, target, now);
            assert_eq!(
                from_answer(&answer),
                expected,
                "seed {seed}, {query}: the rollups' answer differs from the rows'"
            );
            if compared.is_empty() {
                // The traffic reached every kind of figure.
                let f = &expected;
                println!("whole span: {f:?}");
                assert!(
                    f.totals.0 > 50 && f.totals.1 > 10 && f.totals.2 > 3,
                    "{f:?}"
                );
                assert!(f.reasons.0 > 5 && f.by_day.len() > 2, "{f:?}");
                assert!(f.validation.1 > 0 || f.validation.2 > 0, "{f:?}");
            }
            compared.push((query, answer));
        }
    }
    // The default period (the last 30 days up to now: partial days at both ends).
    let default = summary(&app, "").await;
    let from = DateTime::parse_from_rfc3339(default["from"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let until = DateTime::parse_from_rfc3339(default["until"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        from_answer(&default),
        rows.summary(from, until, None, now),
        "seed {seed}, the default period"
    );
    let results = app.results(experiment_id).await;
    println!("experiment: {results}");
    assert_eq!(
        experiment_answer(&results),
        rows.experiment(experiment_id, now),
        "seed {seed}: experiment results {results}"
    );
    // Later, when every save's window has passed.
    clock.advance(Duration::days(45));
    let later = rows.experiment(experiment_id, clock.now());
    assert_eq!(experiment_answer(&app.results(experiment_id).await), later);
    let (query, from, until) = &periods[0];
    assert_eq!(
        from_answer(&summary(&app, query).await),
        rows.summary(*from, *until, None, clock.now()),
        "seed {seed}, {query} 45 days later"
    );

    // `saveloops analytics rebuild` from the rows answers the same, to the byte.
    let url = app.settings.database.url.clone();
    let rebuilt = saveloops_cli(
        &[("SAVELOOPS_DATABASE__URL", &url)],
        &[
            "analytics",
            "rebuild",
            "--org",
            &app.organization_id.to_string(),
            "--from",
            &(first_day - Duration::days(1)).to_string(),
            "--to",
            &(last_day + Duration::days(1)).to_string(),
        ],
    );
    assert_eq!(rebuilt["rebuilt"], true, "{rebuilt}");
    for (query, before) in &compared {
        let mut after = summary(&app, query).await;
        // 45 days later: only the save validation moved (saves held since).
        after["save_validation"] = before["save_validation"].clone();
        assert_eq!(&after, before, "seed {seed}, {query} after the rebuild");
    }
    assert_eq!(experiment_answer(&app.results(experiment_id).await), later);

    // The migration, undone and run again over the stored rows (attribution included),
    // builds the same rollups.
    use migration::MigratorTrait;
    let migrations = migration::Migrator::migrations();
    let rollups = migrations
        .iter()
        .position(|m| m.name() == "m20261207_000001_analytics_rollups")
        .unwrap();
    let since = u32::try_from(migrations.len() - rollups).unwrap();
    migration::Migrator::down(&app.db, Some(since))
        .await
        .unwrap();
    migration::Migrator::up(&app.db, None).await.unwrap();
    for (query, before) in &compared {
        let mut after = summary(&app, query).await;
        after["save_validation"] = before["save_validation"].clone();
        assert_eq!(&after, before, "seed {seed}, {query} after the migration");
    }
    assert_eq!(experiment_answer(&app.results(experiment_id).await), later);
}

/// Batches in flight at once (several instances, or `postgres_commits_in_flight` above one)
/// that hold records of the same end user, offer and status still count that save once, at
/// its largest MRR: each batch changes the first record only after the other committed.
#[actix_web::test]
async fn batches_in_flight_together_count_a_save_once() {
    let mut settings = crate::helpers::test_settings().await;
    settings.database.postgres_commits_in_flight = 4;
    let app = TestApp::spawn_with(settings).await;
    let offer = app
        .offer(json!({"type": "discount", "value": 20, "label": "A", "target_id": "cancel-btn"}))
        .await;
    let users = 3;
    let mut largest = vec![0_u32; users];
    for round in 0..12_u32 {
        let mut burst = Vec::new();
        for n in 0..24_u32 {
            let user = usize::try_from(n).unwrap() % users;
            let mrr = round * 100 + n + 1;
            largest[user] = largest[user].max(mrr);
            burst.push(
                json!({"offer_id": offer, "status": "saved", "mrr_value": mrr,
                "user_email": email(user)}),
            );
        }
        for answer in
            futures_util::future::join_all(burst.iter().map(|b| app.outcome(b.clone()))).await
        {
            ok(answer).await;
        }
    }
    let today = app.actors.clock.now().date_naive();
    let answer = summary(&app, &format!("?from={today}&to={today}")).await;
    assert_eq!(answer["saves"], users, "{answer}");
    let mrr: u32 = largest.iter().sum();
    assert_eq!(answer["saved_mrr"], f64::from(mrr), "{answer}");
}

/// A save whose first record a later one changes (more MRR) moves its hour's figures too:
/// save validation reads the day its window divides by hours (`known_save_hours`), and the
/// held save counts once, at the larger MRR.
#[actix_web::test]
async fn a_changed_save_moves_its_hour_for_save_validation() {
    let app = TestApp::spawn().await;
    let clock = app.actors.clock.clone();
    let now = clock.now();
    // 10:00 UTC tomorrow, so that its day is divided two hours later, thirty days on.
    let saved_at = (now.date_naive() + Duration::days(1))
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    clock.advance(saved_at - now);
    let offer = app
        .offer(json!({"type": "discount", "value": 20, "label": "A", "target_id": "cancel-btn"}))
        .await;
    for mrr in [10, 50, 30] {
        ok(app
            .outcome(
                json!({"offer_id": offer, "status": "saved", "mrr_value": mrr,
                "user_email": email(0)}),
            )
            .await)
        .await;
    }
    clock.advance(Duration::days(30) + Duration::hours(2));
    let (day, today) = (saved_at.date_naive(), clock.now().date_naive());
    let answer = summary(&app, &format!("?from={day}&to={today}")).await;
    let validation = &answer["save_validation"];
    assert_eq!(validation["held"], 1, "{answer}");
    assert_eq!(validation["pending"], 0, "{answer}");
    assert_eq!(validation["retained_mrr"], 50.0, "{answer}");
}

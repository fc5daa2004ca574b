use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::helpers::{assert_invalid, parts, test_settings, TestApp, POSTGRES_ENV};
use crate::ops_support::{eventually, metric, scrape};

async fn flags(app: &TestApp, who: serde_json::Value) -> (bool, bool) {
    let mut body = who;
    body["target_id"] = json!("cancel-btn");
    let (status, answer) = parts(app.intercept(body).await).await;
    assert_eq!(status, 200);
    (
        answer["show_update_card"].as_bool().unwrap(),
        answer["show_onboarding_prompt"].as_bool().unwrap(),
    )
}

#[actix_web::test]
async fn dunning_then_intercept_asks_for_a_card_and_a_payment_clears_it() {
    let app = TestApp::spawn().await;
    let who = json!({"user_email": "late@example.com"});
    assert_eq!(flags(&app, who.clone()).await, (false, true));

    let (status, body) = parts(app.dunning(who.clone()).await).await;
    assert_eq!((status, body), (200, json!({"message": "Recorded"})));
    app.dunning(who.clone()).await;
    assert_eq!(flags(&app, who.clone()).await, (true, true));

    let user = entity::end_user::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(user.needs_payment_update);
    assert_eq!(user.payment_failures, 2);
    assert!(user.first_failed_at.is_some() && user.last_failed_at.is_some());

    // A non-payment success keeps the flag but ends the onboarding prompt.
    let (status, body) = parts(
        app.success_signal(
            json!({"event": "onboarding_completed", "user_email": "late@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "Recorded");
    assert_eq!(body["end_user_id"], user.id);
    assert_eq!(flags(&app, who.clone()).await, (true, false));

    let (status, _) = parts(
        app.success_signal(json!({"event": "payment_succeeded", "user_email": "late@example.com"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(flags(&app, who).await, (false, false));
    let user = entity::end_user::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.last_success_event.as_deref(),
        Some("payment_succeeded")
    );
    assert_eq!(user.payment_failures, 0);
}

#[actix_web::test]
async fn end_users_are_matched_by_customer_id_and_keep_both_ids() {
    let app = TestApp::spawn().await;
    let (_, first) = parts(app.dunning(json!({"stripe_customer_id": "cus_9"})).await).await;
    assert_eq!(first["message"], "Recorded");
    // Later the email arrives with the customer id: same end user, now known by both.
    let (_, signal) = parts(
        app.success_signal(
            json!({"event": "subscription_renewed", "stripe_customer_id": "cus_9",
                                  "user_email": "nine@example.com"}),
        )
        .await,
    )
    .await;
    let (_, by_email) = parts(
        app.success_signal(json!({"event": "login", "user_email": "nine@example.com"}))
            .await,
    )
    .await;
    assert_eq!(signal["end_user_id"], by_email["end_user_id"]);
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].stripe_customer_id.as_deref(), Some("cus_9"));
    assert_eq!(users[0].email.as_deref(), Some("nine@example.com"));
    assert!(
        !users[0].needs_payment_update,
        "subscription_renewed is a payment event"
    );
}

#[actix_web::test]
async fn dunning_and_success_signal_validation() {
    let app = TestApp::spawn().await;
    let without = "The user email field is required when stripe customer id is not present.";
    assert_invalid(app.dunning(json!({})).await, "user_email", without).await;
    assert_invalid(
        app.dunning(json!({})).await,
        "stripe_customer_id",
        "The stripe customer id field is required when user email is not present.",
    )
    .await;
    assert_invalid(
        app.dunning(json!({"user_email": "bad"})).await,
        "user_email",
        "The user email field must be a valid email address.",
    )
    .await;
    assert_invalid(
        app.dunning(json!({"stripe_customer_id": 12})).await,
        "stripe_customer_id",
        "The stripe customer id field must be a string.",
    )
    .await;
    assert_invalid(
        app.success_signal(json!({"user_email": "a@example.com"}))
            .await,
        "event",
        "The event field is required.",
    )
    .await;
    assert_invalid(
        app.success_signal(json!({"event": "e".repeat(65), "user_email": "a@example.com"}))
            .await,
        "event",
        "The event field must not be greater than 64 characters.",
    )
    .await;
    assert_invalid(
        app.success_signal(json!({"event": "payment_succeeded"}))
            .await,
        "user_email",
        without,
    )
    .await;
    let (status, _) = parts(
        app.success_signal(json!({"event": "e".repeat(64), "stripe_customer_id": "cus_1"}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users.len(), 1, "only the valid request wrote");
}

#[actix_web::test]
async fn concurrent_failures_for_one_new_end_user_make_one_row_and_count_all() {
    let app = TestApp::spawn().await;
    let requests = (0..12).map(|_| app.dunning(json!({"user_email": "race@example.com"})));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].payment_failures, 12);
}

#[actix_web::test]
async fn concurrent_first_sightings_across_endpoints_make_one_end_user_each_with_both_ids() {
    let app = TestApp::spawn().await;
    let offer = app.discount_offer().await;
    // Ten people, each named for the first time by four requests at once: by email alone,
    // and by email with their Stripe customer id. Their creation (and the customer id's
    // arrival) share batches.
    let requests = (0..10).flat_map(|i| {
        let email = format!("first{i}@example.com");
        let customer = format!("cus_first{i}");
        [
            (
                "/api/v1/intercept",
                json!({"target_id": "cancel-btn", "user_email": email}),
            ),
            (
                "/api/v1/dunning",
                json!({"user_email": email, "stripe_customer_id": customer}),
            ),
            (
                "/api/v1/success-signal",
                json!({"event": "login", "user_email": email}),
            ),
            (
                "/api/v1/intercept/outcome",
                json!({"offer_id": offer, "status": "abandoned", "user_email": email}),
            ),
        ]
    });
    let app = &app;
    let answers = futures_util::future::join_all(
        requests.map(|(path, body)| async move { parts(app.post(path, &body).await).await }),
    )
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users.len(), 10, "one end user per person");
    for user in &users {
        let email = user
            .email
            .as_deref()
            .expect("every end user keeps the email");
        let i = email
            .trim_start_matches("first")
            .trim_end_matches("@example.com");
        assert_eq!(user.stripe_customer_id, Some(format!("cus_first{i}")));
        assert_eq!(user.payment_failures, 1);
    }
    // Every row written for a person names that person's one end user.
    let impressions = entity::impression::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let outcomes = entity::outcome::Entity::find().all(&app.db).await.unwrap();
    assert_eq!((impressions.len(), outcomes.len()), (10, 10));
    let ids: std::collections::HashSet<i64> = users.iter().map(|u| u.id).collect();
    assert!(impressions
        .iter()
        .all(|r| ids.contains(&r.end_user_id.unwrap())));
    assert!(outcomes
        .iter()
        .all(|r| ids.contains(&r.end_user_id.unwrap())));
    // A success signal answers the end user its person has.
    for (status, answer) in &answers {
        if let Some(id) = answer.get("end_user_id") {
            assert_eq!(*status, 200);
            assert!(ids.contains(&id.as_i64().unwrap()));
        }
    }
}

#[actix_web::test]
async fn concurrent_failures_of_the_same_end_users_all_count_in_one_episode_each() {
    let app = TestApp::spawn().await;
    let emails = ["a@example.com", "b@example.com", "c@example.com"];
    // Ten failures per end user at once: they share group commits, and an end user's
    // repeats wait for later batches.
    let answers = futures_util::future::join_all(
        (0..30).map(|n| app.dunning(json!({"user_email": emails[n % 3]}))),
    )
    .await;
    assert!(answers.iter().all(|r| r.status() == 200));
    let users = entity::end_user::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(users.len(), 3);
    assert!(users
        .iter()
        .all(|u| u.needs_payment_update && u.payment_failures == 10));
    let episodes = entity::dunning_episode::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(episodes.len(), 3, "one open episode per end user");
    assert!(episodes.iter().all(|e| e.recovered_at.is_none()));
    let last_failed: std::collections::HashMap<i64, _> =
        users.iter().map(|u| (u.id, u.last_failed_at)).collect();

    // A payment for two of them (two kinds of payment event), at once with a login of the
    // third: each end user and episode must keep its own event.
    let events = ["payment_succeeded", "invoice.paid", "login"];
    let answers =
        futures_util::future::join_all(emails.iter().zip(events).map(|(email, event)| {
            app.success_signal(json!({"event": event, "user_email": email}))
        }))
        .await;
    assert!(answers.iter().all(|r| r.status() == 200));
    for (email, flagged) in [(emails[0], false), (emails[1], false), (emails[2], true)] {
        let who = json!({ "user_email": email });
        assert_eq!(flags(&app, who).await, (flagged, false), "{email}");
    }
    let (closed, open): (Vec<_>, Vec<_>) = entity::dunning_episode::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .partition(|e| e.recovered_at.is_some());
    assert_eq!(open.len(), 1, "the payments closed two episodes");
    let event_of: std::collections::HashMap<i64, &str> = users
        .iter()
        .map(|u| {
            let email = u.email.as_deref().unwrap();
            (
                u.id,
                events[emails.iter().position(|e| *e == email).unwrap()],
            )
        })
        .collect();
    for user in entity::end_user::Entity::find().all(&app.db).await.unwrap() {
        assert_eq!(
            user.last_success_event.as_deref(),
            Some(event_of[&user.id]),
            "{user:?}"
        );
    }
    // An open episode's failures are counted on its end user; closing it copies them.
    for episode in closed {
        assert_eq!(
            episode.recovery_event.as_deref(),
            Some(event_of[&episode.end_user_id]),
            "{episode:?}"
        );
        assert_eq!(episode.failures, 10, "{episode:?}");
        assert_eq!(
            Some(episode.last_failed_at),
            last_failed[&episode.end_user_id],
            "{episode:?}"
        );
    }
    let third = entity::end_user::Entity::find_by_id(open[0].end_user_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.payment_failures, 10);
}

/// Instances announce their changes to end users (PostgreSQL: notifications; SQLite: the
/// change log), so an instance that has an end user cached (here with a TTL far beyond the
/// test) shows another instance's payment failure and recovery at once; on PostgreSQL also
/// after its listener's connection was cut.
#[actix_web::test]
async fn another_instances_changes_reach_a_cached_end_user_at_once() {
    let mut settings = test_settings().await;
    settings.cache.ttl_seconds = 3_600;
    let first = TestApp::spawn_with(settings.clone()).await;
    let second = TestApp::spawn_with(settings).await;
    // The second instance's organization, written through the first instance.
    let who = json!({"user_email": "late@example.com"});
    assert_eq!(flags(&second, who.clone()).await, (false, true));

    let failed = first.post_as(&second.key, "/api/v1/dunning", &who).await;
    assert_eq!(parts(failed).await.0, 200);
    eventually("the second instance to show the card update", || async {
        (flags(&second, who.clone()).await == (true, true)).then_some(())
    })
    .await;

    if std::env::var(POSTGRES_ENV).is_ok() {
        // The second instance's listener loses its connection; it reconnects, and a change
        // made after that still reaches it.
        first
            .db
            .execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .await
            .unwrap();
    }
    let payment = json!({"event": "payment_succeeded", "user_email": "late@example.com"});
    let paid = first
        .post_as(&second.key, "/api/v1/success-signal", &payment)
        .await;
    assert_eq!(parts(paid).await.0, 200);
    eventually("the second instance to see the payment", || async {
        (flags(&second, who.clone()).await == (false, false)).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_starting_instance_warms_its_cache_with_the_newest_end_users() {
    let settings = test_settings().await;
    let first = TestApp::spawn_with(settings.clone()).await;
    for n in 0..3 {
        let who = json!({"user_email": format!("known{n}@example.com")});
        assert_eq!(flags(&first, who).await, (false, true));
    }
    // A second instance on the same database, which no request has named them to yet.
    let second = TestApp::spawn_with(settings).await;
    eventually(
        "the second instance to cache the three end users",
        || async { (cached_end_users(&second).await >= 3.0).then_some(()) },
    )
    .await;
    // What it warmed with is what the database says, and it still hears changes to them.
    let who = json!({"user_email": "known1@example.com"});
    let failed = first.post_as(&second.key, "/api/v1/dunning", &who).await;
    assert_eq!(parts(failed).await.0, 200);
    eventually("the second instance to show the card update", || async {
        (flags(&second, who.clone()).await == (true, true)).then_some(())
    })
    .await;
}

async fn cached_end_users(app: &TestApp) -> f64 {
    metric(&scrape(app).await, "saveloops_end_user_cache_entries", &[]).unwrap_or(0.0)
}

/// An instance's own payment-health writes update the end users it caches, and hearing its
/// own announcement of them back does not make it forget them (another instance's does).
#[actix_web::test]
async fn an_instance_keeps_the_end_users_its_own_writes_changed() {
    let mut settings = test_settings().await;
    settings.cache.ttl_seconds = 3_600;
    let first = TestApp::spawn_with(settings.clone()).await;
    let second = TestApp::spawn_with(settings).await;
    let own = json!({"user_email": "own@example.com"});
    let other = json!({"user_email": "other@example.com"});
    assert_eq!(flags(&second, own.clone()).await, (false, true));
    assert_eq!(flags(&second, other.clone()).await, (false, true));
    // (On PostgreSQL the instance may start hearing changes only now: it then drops what it
    // cached and what was being looked up, and asks again.)
    eventually("the second instance to cache both end users", || async {
        flags(&second, own.clone()).await;
        flags(&second, other.clone()).await;
        (cached_end_users(&second).await == 2.0).then_some(())
    })
    .await;

    // The second instance's own write, then the first instance's: announced in that order.
    assert_eq!(parts(second.dunning(own.clone()).await).await.0, 200);
    let failed = first.post_as(&second.key, "/api/v1/dunning", &other).await;
    assert_eq!(parts(failed).await.0, 200);
    // Once the second instance shows the other write, it has heard both announcements.
    eventually(
        "the second instance to show the other instance's write",
        || async { (flags(&second, other.clone()).await == (true, true)).then_some(()) },
    )
    .await;
    // Both are cached: the own write's end user was kept (with its new state), the other
    // one forgotten and read again.
    assert_eq!(cached_end_users(&second).await, 2.0);
    assert_eq!(flags(&second, own).await, (true, true));
}

/// A cache bounded below the number of end users gives up entries as it fills, and every
/// answer stays the database's, whichever identifier names the end user.
#[actix_web::test]
async fn a_full_end_user_cache_still_answers_from_the_database() {
    let mut settings = test_settings().await;
    settings.cache.max_end_users = 2;
    let app = TestApp::spawn_with(settings).await;
    let who = |n: usize| json!({"user_email": format!("u{n}@example.com"), "stripe_customer_id": format!("cus_{n}")});
    for n in 0..5 {
        assert_eq!(flags(&app, who(n)).await, (false, true));
    }
    // Each write updates the end user the cache just looked up.
    for n in [0, 2, 4] {
        assert_eq!(parts(app.dunning(who(n)).await).await.0, 200);
        assert_eq!(flags(&app, who(n)).await, (true, true));
    }
    let paid = json!({"event": "payment_succeeded", "stripe_customer_id": "cus_4"});
    assert_eq!(parts(app.success_signal(paid).await).await.0, 200);
    assert_eq!(flags(&app, who(4)).await, (false, false));
    for _ in 0..2 {
        for n in 0..5 {
            let expected = (n == 0 || n == 2, n != 4);
            assert_eq!(flags(&app, who(n)).await, expected, "end user {n}");
            let by_email = json!({"user_email": format!("u{n}@example.com")});
            assert_eq!(
                flags(&app, by_email).await,
                expected,
                "end user {n} by email"
            );
            let by_customer = json!({"stripe_customer_id": format!("cus_{n}")});
            assert_eq!(
                flags(&app, by_customer).await,
                expected,
                "end user {n} by customer"
            );
        }
    }
    assert!(cached_end_users(&app).await <= 2.0);
}

/// The migrations that move an open episode's count onto its end user (SQLite's triggers)
/// and drop the episodes' foreign keys (PostgreSQL) can be undone and redone on a live
/// service, and the episode's count survives both ways.
#[actix_web::test]
async fn open_episode_counts_survive_undoing_and_redoing_their_migration() {
    use migration::MigratorTrait;
    let app = TestApp::spawn().await;
    let who = json!({"user_email": "late@example.com"});
    for _ in 0..3 {
        assert_eq!(app.dunning(who.clone()).await.status(), 200);
    }
    let episode = || async {
        let episodes = entity::dunning_episode::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(episodes.len(), 1, "{episodes:?}");
        episodes.into_iter().next().unwrap()
    };
    // Back to before the counts' move, which undoes the episodes' foreign keys' drop
    // (PostgreSQL) and every migration after it too.
    let migrations = migration::Migrator::migrations();
    let counts_move = migrations
        .iter()
        .position(|m| m.name() == "m20261130_000004_count_open_episodes_on_end_users")
        .expect("the counts' move is a migration");
    let steps = u32::try_from(migrations.len() - counts_move).unwrap();
    migration::Migrator::down(&app.db, Some(steps))
        .await
        .unwrap();
    if std::env::var(POSTGRES_ENV).is_err() {
        // Undone, the open episode counts its failures in its own row again.
        assert_eq!(episode().await.failures, 3);
    }
    assert_eq!(app.dunning(who.clone()).await.status(), 200);
    migration::Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(app.dunning(who.clone()).await.status(), 200);
    let paid = json!({"event": "payment_succeeded", "user_email": "late@example.com"});
    assert_eq!(app.success_signal(paid).await.status(), 200);
    let closed = episode().await;
    assert!(closed.recovered_at.is_some(), "{closed:?}");
    assert_eq!(closed.failures, 5);
    assert!(
        !flags(&app, who).await.0,
        "the payment cleared the card request"
    );
}

//! The behaviours every backend must show. Each takes a fresh, empty queue.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use workers::{JobHandler, Queue, QueueError};

use crate::support::*;

fn assert_lease_lost<T: std::fmt::Debug>(result: Result<T, QueueError>) {
    match result {
        Err(QueueError::LeaseLost { .. }) => {}
        other => panic!("expected LeaseLost, got {other:?}"),
    }
}

pub async fn enqueue_is_idempotent(q: Arc<dyn Queue>) {
    assert!(q
        .enqueue(new_job("apply_offer:1", "apply_offer"))
        .await
        .unwrap());
    let mut again = new_job("apply_offer:1", "apply_offer");
    again.payload = serde_json::json!({ "different": true });
    assert!(!q.enqueue(again.clone()).await.unwrap());
    assert!(q.contains("apply_offer:1").await.unwrap());
    assert!(!q.contains("apply_offer:2").await.unwrap());

    // Still a duplicate while in flight; the first payload is the one kept.
    let jobs = q.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, new_job("apply_offer:1", "x").payload);
    assert!(!q.enqueue(again.clone()).await.unwrap());

    // And while dead.
    q.bury(&jobs[0], "gave up").await.unwrap();
    assert!(!q.enqueue(again).await.unwrap());
    assert!(q.contains("apply_offer:1").await.unwrap());
}

pub async fn claim_takes_only_due_jobs_oldest_first(q: Arc<dyn Queue>) {
    let now = Utc::now();
    let past = new_job("past", "k").run_at(now - secs(60));
    q.enqueue(new_job("now", "k").run_at(now)).await.unwrap();
    q.enqueue(past.clone()).await.unwrap();
    q.enqueue(new_job("later", "k").run_at(now + secs(3600)))
        .await
        .unwrap();

    let jobs = q.claim(10, LONG_LEASE).await.unwrap();
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["past", "now"]);

    let first = &jobs[0];
    assert_eq!(first.kind, "k");
    assert_eq!(first.payload, past.payload);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.last_error, None);
    assert_eq!(millis(first.run_at), millis(past.run_at));
    assert!(first.enqueued_at <= Utc::now());
    assert!(!first.lease_token.is_empty());

    assert!(q.claim(10, LONG_LEASE).await.unwrap().is_empty());
    assert!(q.contains("later").await.unwrap());
}

pub async fn claim_respects_the_limit(q: Arc<dyn Queue>) {
    for i in 0..5 {
        q.enqueue(new_job(&format!("job:{i}"), "k")).await.unwrap();
    }
    assert!(q.claim(0, LONG_LEASE).await.unwrap().is_empty());
    assert_eq!(q.claim(2, LONG_LEASE).await.unwrap().len(), 2);
    assert_eq!(q.claim(2, LONG_LEASE).await.unwrap().len(), 2);
    assert_eq!(q.claim(2, LONG_LEASE).await.unwrap().len(), 1);
    assert!(q.claim(2, LONG_LEASE).await.unwrap().is_empty());
}

pub async fn expired_lease_is_claimable_again_and_old_lease_is_refused(q: Arc<dyn Queue>) {
    q.enqueue(new_job("a", "k")).await.unwrap();
    let first = q
        .claim(1, Duration::from_millis(200))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(first.attempts, 1);

    let second = claim_eventually(&*q, 1, LONG_LEASE).await.remove(0);
    assert_eq!(second.id, "a");
    assert_eq!(second.attempts, 2);
    assert_ne!(second.lease_token, first.lease_token);
    // Re-delivered jobs became due when the old lease expired.
    assert!(second.run_at > first.run_at);

    // The stale lease can settle nothing.
    assert_lease_lost(q.ack(&first).await);
    assert!(!q.extend_lease(&first, LONG_LEASE).await.unwrap());
    assert_lease_lost(q.retry_at(&first, Utc::now(), "stale").await);
    assert_lease_lost(q.bury(&first, "stale").await);
    assert_lease_lost(q.release(&first).await);
    assert!(q.contains("a").await.unwrap());
    assert_eq!(q.stats().await.unwrap().total.in_flight, 1);

    q.ack(&second).await.unwrap();
    assert!(!q.contains("a").await.unwrap());
    assert_lease_lost(q.ack(&second).await);
}

pub async fn expired_lease_nobody_reclaimed_still_settles(q: Arc<dyn Queue>) {
    q.enqueue(new_job("slow", "k")).await.unwrap();
    let slow = q
        .claim(1, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    // Older than the expired lease, so the next claim takes it instead.
    q.enqueue(new_job("old", "k").run_at(Utc::now() - secs(3600)))
        .await
        .unwrap();
    eventually("the lease to expire", || async {
        (q.stats().await.unwrap().total.ready == 2).then_some(())
    })
    .await;

    let other = q.claim(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(other.id, "old");
    // Nobody took over "slow", so its worker may still finish it.
    q.ack(&slow).await.unwrap();
    assert!(!q.contains("slow").await.unwrap());
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.total.ready, stats.total.in_flight), (0, 1));
}

pub async fn extend_lease_keeps_the_job_leased(q: Arc<dyn Queue>) {
    q.enqueue(new_job("a", "k")).await.unwrap();
    let lease = Duration::from_millis(200);
    let claimed_at = tokio::time::Instant::now();
    let job = q.claim(1, lease).await.unwrap().remove(0);
    assert!(q.extend_lease(&job, LONG_LEASE).await.unwrap());

    // Proving a negative takes waiting past the original lease.
    tokio::time::sleep_until(claimed_at + lease * 2).await;
    assert!(q.claim(1, LONG_LEASE).await.unwrap().is_empty());
    assert_eq!(q.stats().await.unwrap().total.in_flight, 1);
    q.ack(&job).await.unwrap();
}

pub async fn retry_at_schedules_with_attempts_kept(q: Arc<dyn Queue>) {
    q.enqueue(new_job("later", "k")).await.unwrap();
    q.enqueue(new_job("soon", "k")).await.unwrap();
    let jobs = q.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let (later, soon) = if jobs[0].id == "later" {
        (&jobs[0], &jobs[1])
    } else {
        (&jobs[1], &jobs[0])
    };

    q.retry_at(later, Utc::now() + secs(3600), "rate limited")
        .await
        .unwrap();
    q.retry_at(soon, Utc::now() - secs(1), "timeout")
        .await
        .unwrap();
    // Settled: the lease is gone.
    assert_lease_lost(q.retry_at(soon, Utc::now(), "again").await);

    let again = q.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(again.len(), 1, "only the due retry is claimable");
    assert_eq!(again[0].id, "soon");
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_error.as_deref(), Some("timeout"));

    let stats = q.stats().await.unwrap();
    assert_eq!(stats.total.scheduled, 1);
    assert_eq!(stats.total.in_flight, 1);
    assert_eq!(stats.total.retries_total, 2);
}

pub async fn bury_dead_listing_revive_and_delete(q: Arc<dyn Queue>) {
    for id in ["a", "b", "c"] {
        q.enqueue(new_job(id, "k")).await.unwrap();
    }
    let mut jobs = q.claim(10, LONG_LEASE).await.unwrap();
    jobs.sort_by(|x, y| x.id.cmp(&y.id));
    for job in &jobs {
        q.bury(job, &format!("error of {}", job.id)).await.unwrap();
    }
    assert_lease_lost(q.ack(&jobs[0]).await);

    // Newest death first; same-millisecond deaths fall back to id, descending.
    let ids = |dead: Vec<workers::DeadJob>| dead.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(ids(q.dead(0, 10).await.unwrap()), ["c", "b", "a"]);
    assert_eq!(ids(q.dead(1, 1).await.unwrap()), ["b"]);
    assert!(q.dead(3, 10).await.unwrap().is_empty());
    assert!(q.dead(0, 0).await.unwrap().is_empty());

    let a = q.dead_job("a").await.unwrap().expect("a is dead");
    assert_eq!(a.kind, "k");
    assert_eq!(a.attempts, 1);
    assert_eq!(a.last_error.as_deref(), Some("error of a"));
    assert_eq!(a.payload, new_job("a", "k").payload);
    assert!(a.died_at <= Utc::now());
    assert!(q.dead_job("missing").await.unwrap().is_none());
    assert!(q.contains("a").await.unwrap());
    assert!(q.claim(10, LONG_LEASE).await.unwrap().is_empty());

    assert!(q.revive("a").await.unwrap());
    assert!(!q.revive("a").await.unwrap());
    assert!(!q.revive("missing").await.unwrap());
    assert!(q.dead_job("a").await.unwrap().is_none());
    assert_eq!(ids(q.dead(0, 10).await.unwrap()), ["c", "b"]);
    let revived = q.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(revived.len(), 1);
    assert_eq!(revived[0].attempts, 1, "attempts restart from zero");
    assert_eq!(revived[0].last_error.as_deref(), Some("error of a"));
    assert!(!q.delete_dead("a").await.unwrap(), "a is not dead");

    assert!(q.delete_dead("b").await.unwrap());
    assert!(!q.delete_dead("b").await.unwrap());
    assert!(!q.contains("b").await.unwrap());
    assert_eq!(ids(q.dead(0, 10).await.unwrap()), ["c"]);
    assert_eq!(q.stats().await.unwrap().total.dead, 1);
}

pub async fn release_does_not_count_the_attempt(q: Arc<dyn Queue>) {
    q.enqueue(new_job("a", "k").run_at(Utc::now() - secs(600)))
        .await
        .unwrap();
    let first = q.claim(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(first.attempts, 1);
    q.release(&first).await.unwrap();
    assert_lease_lost(q.release(&first).await);
    assert_lease_lost(q.ack(&first).await);

    let second = q.claim(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(second.attempts, 1);
    // Back at its old place in line.
    assert_eq!(millis(second.run_at), millis(first.run_at));
    assert_eq!(q.stats().await.unwrap().total.retries_total, 0);
}

pub async fn stats_figures(q: Arc<dyn Queue>) {
    let empty = q.stats().await.unwrap();
    assert_eq!(empty, workers::QueueStats::default());

    let now = Utc::now();
    q.enqueue(new_job("a1", "alpha").run_at(now - secs(60)))
        .await
        .unwrap();
    q.enqueue(new_job("a2", "alpha").run_at(now)).await.unwrap();
    q.enqueue(new_job("a3", "alpha").run_at(now + secs(3600)))
        .await
        .unwrap();
    q.enqueue(new_job("b1", "beta").run_at(now - secs(30)))
        .await
        .unwrap();
    q.enqueue(new_job("b2", "beta").run_at(now + secs(3600)))
        .await
        .unwrap();

    let stats = q.stats().await.unwrap();
    let alpha = stats.kind("alpha");
    let beta = stats.kind("beta");
    assert_eq!(
        (alpha.ready, alpha.scheduled, alpha.in_flight, alpha.dead),
        (2, 1, 0, 0)
    );
    assert_eq!(
        (beta.ready, beta.scheduled, beta.in_flight, beta.dead),
        (1, 1, 0, 0)
    );
    assert_eq!((stats.total.ready, stats.total.scheduled), (3, 2));
    let age = |s: &workers::KindStats| s.oldest_due_age_seconds.expect("something is due");
    assert!((60.0..120.0).contains(&age(&alpha)), "{alpha:?}");
    assert!((30.0..90.0).contains(&age(&beta)), "{beta:?}");
    assert_eq!(age(&stats.total), age(&alpha));

    let a1 = q.claim(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(a1.id, "a1");
    let alpha = q.stats().await.unwrap().kind("alpha");
    assert_eq!((alpha.ready, alpha.in_flight), (1, 1));

    q.bury(&a1, "boom").await.unwrap();
    let b1 = q.claim(1, LONG_LEASE).await.unwrap().remove(0);
    assert_eq!(b1.id, "b1");
    q.retry_at(&b1, Utc::now() + secs(3600), "busy")
        .await
        .unwrap();

    let stats = q.stats().await.unwrap();
    let alpha = stats.kind("alpha");
    let beta = stats.kind("beta");
    assert_eq!(
        (alpha.ready, alpha.scheduled, alpha.in_flight, alpha.dead),
        (1, 1, 0, 1)
    );
    assert_eq!(
        (beta.ready, beta.scheduled, beta.in_flight, beta.dead),
        (0, 2, 0, 0)
    );
    assert_eq!(beta.oldest_due_age_seconds, None);
    assert_eq!((alpha.retries_total, beta.retries_total), (0, 1));
    assert_eq!(
        (
            stats.total.ready,
            stats.total.scheduled,
            stats.total.dead,
            stats.total.retries_total
        ),
        (1, 3, 1, 1)
    );

    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["total"]["retries_total"], 1);
    assert_eq!(json["kinds"]["beta"]["scheduled"], 2);
}

pub async fn concurrent_claimers_never_share_a_job(q: Arc<dyn Queue>) {
    const JOBS: usize = 200;
    for i in 0..JOBS {
        q.enqueue(new_job(&format!("job:{i}"), "k")).await.unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let jobs = q.claim(7, LONG_LEASE).await.expect("claim");
                    if jobs.is_empty() {
                        return mine;
                    }
                    mine.extend(jobs.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), JOBS, "every job claimed exactly once");
    assert_eq!(distinct.len(), JOBS);
    assert_eq!(q.stats().await.unwrap().total.in_flight, JOBS as u64);
}

pub async fn worker_retries_then_succeeds(q: Arc<dyn Queue>) {
    let handler = Flaky::new(2);
    let observer = Arc::new(CountingObserver::default());
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("apply_offer", handler.clone() as Arc<dyn JobHandler>)],
        test_config(LONG_LEASE),
        observer.clone(),
    );
    q.enqueue(new_job("apply_offer:42", "apply_offer"))
        .await
        .unwrap();

    drive_until(&pool, "the job to succeed", || async {
        !q.contains("apply_offer:42").await.unwrap()
    })
    .await;

    assert_eq!(*handler.attempts_seen.lock().unwrap(), [1, 2, 3]);
    // started, succeeded, retried, failed, dead
    assert_eq!(observer.counts(), [3, 1, 2, 0, 0]);
    assert_eq!(q.stats().await.unwrap().total.retries_total, 2);
}

pub async fn worker_buries_after_max_attempts(q: Arc<dyn Queue>) {
    let handler = Arc::new(AlwaysRetry::default());
    let observer = Arc::new(CountingObserver::default());
    let pool = pool(
        q.clone(),
        quick_policy(3),
        vec![("apply_offer", handler.clone() as Arc<dyn JobHandler>)],
        test_config(LONG_LEASE),
        observer.clone(),
    );
    q.enqueue(new_job("apply_offer:7", "apply_offer"))
        .await
        .unwrap();

    drive_until(&pool, "the job to die", || async {
        q.dead_job("apply_offer:7").await.unwrap().is_some()
    })
    .await;

    let dead = q.dead_job("apply_offer:7").await.unwrap().unwrap();
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("upstream unavailable"));
    assert_eq!(
        *handler.deaths.lock().unwrap(),
        [(
            "apply_offer:7".to_owned(),
            3,
            "upstream unavailable".to_owned()
        )]
    );
    assert_eq!(observer.counts(), [3, 0, 2, 0, 1]);
    // Nothing more to do.
    assert_eq!(pool.run_once().await.unwrap(), 0);
}

pub async fn worker_buries_unknown_kinds(q: Arc<dyn Queue>) {
    let observer = Arc::new(CountingObserver::default());
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("known", Arc::new(Counts::default()) as Arc<dyn JobHandler>)],
        test_config(LONG_LEASE),
        observer.clone(),
    );
    q.enqueue(new_job("m:1", "mystery")).await.unwrap();
    assert_eq!(pool.run_once().await.unwrap(), 1);

    let dead = q.dead_job("m:1").await.unwrap().expect("buried");
    let error = dead.last_error.unwrap();
    assert!(error.contains("mystery"), "{error}");
    assert_eq!(observer.counts(), [0, 0, 0, 0, 1]);
}

pub async fn worker_survives_a_panicking_handler(q: Arc<dyn Queue>) {
    let handler = Arc::new(PanicsOnce::default());
    let observer = Arc::new(CountingObserver::default());
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("k", handler.clone() as Arc<dyn JobHandler>)],
        test_config(LONG_LEASE),
        observer.clone(),
    );
    q.enqueue(new_job("p", "k")).await.unwrap();

    assert_eq!(pool.run_once().await.unwrap(), 1);
    let retried = claim_eventually(&*q, 1, LONG_LEASE).await.remove(0);
    let error = retried.last_error.clone().unwrap();
    assert!(error.contains("panicked"), "{error}");
    q.release(&retried).await.unwrap();

    drive_until(&pool, "the job to succeed", || async {
        !q.contains("p").await.unwrap()
    })
    .await;
    assert_eq!(*handler.attempts_seen.lock().unwrap(), [1, 2]);
    assert_eq!(observer.counts(), [2, 1, 1, 0, 0]);
}

pub async fn worker_acks_permanent_failures(q: Arc<dyn Queue>) {
    let handler = Arc::new(Rejects::default());
    let observer = Arc::new(CountingObserver::default());
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("k", handler.clone() as Arc<dyn JobHandler>)],
        test_config(LONG_LEASE),
        observer.clone(),
    );
    q.enqueue(new_job("f", "k")).await.unwrap();
    assert_eq!(pool.run_once().await.unwrap(), 1);

    assert!(!q.contains("f").await.unwrap());
    assert!(q.dead(0, 10).await.unwrap().is_empty());
    assert_eq!(handler.deaths.load(Ordering::SeqCst), 0);
    assert_eq!(observer.counts(), [1, 0, 0, 1, 0]);
}

pub async fn worker_run_processes_jobs_when_woken(q: Arc<dyn Queue>) {
    let handler = Arc::new(Counts::default());
    let observer = Arc::new(CountingObserver::default());
    let mut config = test_config(LONG_LEASE);
    // Far longer than the deadline: only the waker can get these jobs run.
    config.poll_interval = Duration::from_secs(600);
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("k", handler.clone() as Arc<dyn JobHandler>)],
        config,
        observer.clone(),
    );
    let waker = pool.waker();
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(pool.run(shutdown));

    for i in 0..10 {
        q.enqueue(new_job(&format!("w:{i}"), "k")).await.unwrap();
    }
    waker.notify_one();
    // The observer hears of a completion just after its acknowledgement: wait for it too.
    eventually("all jobs to run", || async {
        (handler.handled.load(Ordering::SeqCst) == 10
            && q.stats().await.unwrap().total == workers::KindStats::default()
            && observer.counts()[1] == 10)
            .then_some(())
    })
    .await;
    assert_eq!(observer.counts(), [10, 10, 0, 0, 0]);

    stop.send(true).unwrap();
    tokio::time::timeout(DEADLINE, running)
        .await
        .expect("pool stops")
        .unwrap();
}

pub async fn worker_run_extends_leases_of_long_jobs(q: Arc<dyn Queue>) {
    let handler = Arc::new(Gated::default());
    let observer = Arc::new(CountingObserver::default());
    // Renewal runs every half lease; a lease of a few seconds leaves room for a loaded
    // machine to be late with a renewal without the lease running out.
    let lease = Duration::from_secs(3);
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("k", handler.clone() as Arc<dyn JobHandler>)],
        test_config(lease),
        observer.clone(),
    );
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(pool.run(shutdown));
    q.enqueue(new_job("long", "k")).await.unwrap();
    eventually("the job to start", || async {
        (handler.started.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;

    // Well past the first lease, nobody else may get the job.
    let until = tokio::time::Instant::now() + lease * 5 / 2;
    while tokio::time::Instant::now() < until {
        assert!(
            q.claim(1, LONG_LEASE).await.unwrap().is_empty(),
            "lease was not extended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    handler.gate.notify_one();
    // The observer hears of the success just after the ack: wait for it, not for the ack.
    eventually("the job to finish", || async {
        (!q.contains("long").await.unwrap() && observer.counts() == [1, 1, 0, 0, 0]).then_some(())
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(DEADLINE, running)
        .await
        .expect("pool stops")
        .unwrap();
}

pub async fn worker_shutdown_releases_unfinished_jobs(q: Arc<dyn Queue>) {
    let handler = Arc::new(Gated::default());
    let observer = Arc::new(CountingObserver::default());
    let mut config = test_config(LONG_LEASE);
    config.concurrency = 2;
    config.shutdown_grace = Duration::from_millis(100);
    let pool = pool(
        q.clone(),
        quick_policy(5),
        vec![("k", handler.clone() as Arc<dyn JobHandler>)],
        config,
        observer.clone(),
    );
    q.enqueue(new_job("s:1", "k")).await.unwrap();
    q.enqueue(new_job("s:2", "k")).await.unwrap();
    q.enqueue(new_job("s:3", "k")).await.unwrap();
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(pool.run(shutdown));
    eventually("both slots to be busy", || async {
        (handler.started.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;

    stop.send(true).unwrap();
    tokio::time::timeout(DEADLINE, running)
        .await
        .expect("pool stops")
        .unwrap();

    // Released jobs are due again, and the interrupted attempt did not count.
    let jobs = q.claim(10, LONG_LEASE).await.unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.attempts == 1), "{jobs:?}");
    assert_eq!(handler.started.load(Ordering::SeqCst), 2);
    assert_eq!(observer.counts(), [2, 0, 0, 0, 0]);
}

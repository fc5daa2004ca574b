//! One behaviour suite, run against every queue backend: Redis, SQLite, and
//! PostgreSQL when `SAVELOOPS_TEST_POSTGRES_URL` is set.
// A test binary exports nothing: its modules' `pub` items are for their siblings.
#![allow(unreachable_pub)]

mod behaviour;
mod support;

/// Declares one `#[tokio::test]` per behaviour for a backend. `$backend` is
/// an async fn returning `Option<support::Backend>` (`None` skips).
macro_rules! queue_suite {
    ($backend:path) => {
        queue_suite!(@tests $backend;
            enqueue_is_idempotent,
            claim_takes_only_due_jobs_oldest_first,
            claim_respects_the_limit,
            expired_lease_is_claimable_again_and_old_lease_is_refused,
            expired_lease_nobody_reclaimed_still_settles,
            extend_lease_keeps_the_job_leased,
            retry_at_schedules_with_attempts_kept,
            bury_dead_listing_revive_and_delete,
            release_does_not_count_the_attempt,
            stats_figures,
            concurrent_claimers_never_share_a_job,
            worker_retries_then_succeeds,
            worker_buries_after_max_attempts,
            worker_buries_unknown_kinds,
            worker_survives_a_panicking_handler,
            worker_acks_permanent_failures,
            worker_run_processes_jobs_when_woken,
            worker_run_extends_leases_of_long_jobs,
            worker_shutdown_releases_unfinished_jobs,
        );
    };
    (@tests $backend:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(backend) = $backend().await else {
                    return;
                };
                crate::behaviour::$name(backend.queue.clone()).await;
            }
        )*
    };
}

mod redis_backend {
    queue_suite!(crate::support::redis);
}

mod sqlite_backend {
    queue_suite!(crate::support::sqlite);
}

mod postgres_backend {
    queue_suite!(crate::support::postgres);
}

//! Rate limits per API key: a token bucket run as GCRA (generic cell rate algorithm).
//!
//! A key may send `burst` requests at once and `requests_per_second` sustained. With the
//! Redis queue backend the buckets live in Redis (one Lua script, atomic, on the server's
//! clock), so every instance shares them; otherwise they live in this process and cost no
//! network round trip. Applied by the `Tenant` extractor, so every keyed endpoint has it.
//!
//! With Redis, an instance takes up to `LEASE_WINDOW` worth of a key's rate from the shared
//! bucket at once and spends it locally, so that a busy key costs one Redis round trip per
//! batch of requests rather than one per request. What a lease does not spend before it
//! expires is lost (never handed to anyone else twice): the shared limit is never exceeded,
//! and at a rate too low to batch (under one request per window) every request asks Redis.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::Script;

use crate::config::RateLimitSettings;

/// Buckets kept in memory before idle (full) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;
/// How much of a key's rate one Redis round trip takes for this instance, and how long the
/// instance may spend it.
const LEASE_WINDOW: Duration = Duration::from_millis(50);
/// Most requests one lease grants.
const MAX_LEASE: u64 = 1_000;

/// Requests of one key this instance may still let pass without asking Redis.
pub struct Lease {
    left: u64,
    until: Instant,
}

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; the next request may pass after this long.
    Limited(Duration),
}

/// GCRA parameters.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Time one request "costs".
    interval: Duration,
    /// How far ahead of now the bucket may run: `interval × burst`.
    tolerance: Duration,
}

impl Rate {
    fn from_settings(settings: &RateLimitSettings) -> Option<Rate> {
        let rps = settings.requests_per_second;
        if !(rps.is_finite() && rps > 0.0) {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / rps);
        Some(Rate {
            interval,
            tolerance: interval.saturating_mul(settings.burst.max(1)),
        })
    }
}

pub enum RateLimiter {
    Off,
    Local {
        rate: Rate,
        epoch: Instant,
        /// Key prefix → theoretical arrival time, as a duration since `epoch`.
        buckets: Mutex<HashMap<String, Duration>>,
    },
    Redis {
        rate: Rate,
        conn: ConnectionManager,
        script: Script,
        key_prefix: String,
        /// Requests per Redis round trip: the rate over `LEASE_WINDOW` (at least 1).
        lease_size: u64,
        leases: Mutex<HashMap<String, Lease>>,
    },
}

impl RateLimiter {
    /// In this process (or off when `requests_per_second` is 0).
    pub fn local(settings: &RateLimitSettings) -> RateLimiter {
        match Rate::from_settings(settings) {
            None => RateLimiter::Off,
            Some(rate) => RateLimiter::Local {
                rate,
                epoch: Instant::now(),
                buckets: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Shared through Redis; bucket keys start with `key_prefix`.
    pub fn redis(
        settings: &RateLimitSettings,
        conn: ConnectionManager,
        key_prefix: String,
    ) -> RateLimiter {
        match Rate::from_settings(settings) {
            None => RateLimiter::Off,
            Some(rate) => RateLimiter::Redis {
                rate,
                conn,
                script: Script::new(include_str!("lua/rate_limit.lua")),
                key_prefix,
                lease_size: ((LEASE_WINDOW.as_secs_f64() * settings.requests_per_second) as u64)
                    .clamp(1, MAX_LEASE),
                leases: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Counts one request of the key with this (public) prefix.
    pub async fn check(&self, key: &str) -> Verdict {
        match self {
            RateLimiter::Off => Verdict::Allowed,
            RateLimiter::Local {
                rate,
                epoch,
                buckets,
            } => {
                let now = epoch.elapsed();
                let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
                if buckets.len() > PRUNE_ABOVE && !buckets.contains_key(key) {
                    // A bucket whose TAT has passed is full: forgetting it changes nothing.
                    buckets.retain(|_, tat| *tat > now);
                }
                let tat = buckets.get(key).copied().unwrap_or(now).max(now);
                let new_tat = tat + rate.interval;
                let allow_at = new_tat.saturating_sub(rate.tolerance);
                if allow_at > now {
                    Verdict::Limited(allow_at - now)
                } else {
                    buckets.insert(key.to_owned(), new_tat);
                    Verdict::Allowed
                }
            }
            RateLimiter::Redis {
                rate,
                conn,
                script,
                key_prefix,
                lease_size,
                leases,
            } => {
                if spend_lease(leases, key) {
                    return Verdict::Allowed;
                }
                let result: redis::RedisResult<(i64, i64)> = script
                    .key(format!("{key_prefix}{key}"))
                    .arg(u64::try_from(rate.interval.as_micros()).unwrap_or(u64::MAX))
                    .arg(u64::try_from(rate.tolerance.as_micros()).unwrap_or(u64::MAX))
                    .arg(*lease_size)
                    .invoke_async(&mut conn.clone())
                    .await;
                match result {
                    Ok((granted, _)) if granted >= 1 => {
                        // This request takes one; the rest is this instance's to spend.
                        let rest = u64::try_from(granted - 1).unwrap_or(0);
                        if rest > 0 {
                            add_lease(leases, key, rest);
                        }
                        Verdict::Allowed
                    }
                    Ok((_, wait)) => {
                        Verdict::Limited(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
                    }
                    Err(e) => {
                        // Fail open: an unreachable Redis must not take the API down with it.
                        tracing::warn!(error = %e, "rate limit check failed; request allowed");
                        Verdict::Allowed
                    }
                }
            }
        }
    }
}

/// Takes one request from this instance's lease of the key, if it has a live one.
fn spend_lease(leases: &Mutex<HashMap<String, Lease>>, key: &str) -> bool {
    let mut leases = leases.lock().unwrap_or_else(|e| e.into_inner());
    match leases.get_mut(key) {
        Some(lease) if lease.left > 0 && lease.until > Instant::now() => {
            lease.left -= 1;
            true
        }
        _ => false,
    }
}

fn add_lease(leases: &Mutex<HashMap<String, Lease>>, key: &str, granted: u64) {
    let mut leases = leases.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if leases.len() > PRUNE_ABOVE && !leases.contains_key(key) {
        leases.retain(|_, lease| lease.until > now && lease.left > 0);
    }
    let lease = leases.entry(key.to_owned()).or_insert(Lease {
        left: 0,
        until: now,
    });
    if lease.until <= now {
        lease.left = 0;
    }
    lease.left += granted;
    lease.until = now + LEASE_WINDOW;
}

/// Whole seconds to announce in `Retry-After` (at least 1).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rps: f64, burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            requests_per_second: rps,
            burst,
        }
    }

    #[actix_web::test]
    async fn a_burst_passes_then_the_sustained_rate() {
        let limiter = RateLimiter::local(&settings(1.0, 3));
        for _ in 0..3 {
            assert_eq!(limiter.check("a").await, Verdict::Allowed);
        }
        let Verdict::Limited(wait) = limiter.check("a").await else {
            panic!("the fourth request at once is limited");
        };
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert_eq!(retry_after_seconds(wait), 1);
        // Another key has its own bucket.
        assert_eq!(limiter.check("b").await, Verdict::Allowed);
    }

    #[actix_web::test]
    async fn zero_turns_it_off() {
        let limiter = RateLimiter::local(&settings(0.0, 1));
        for _ in 0..100 {
            assert_eq!(limiter.check("a").await, Verdict::Allowed);
        }
    }
}

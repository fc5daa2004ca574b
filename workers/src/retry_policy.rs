//! The only module allowed to use `backoff` (unmaintained, RUSTSEC-2025-0012):
//! keeping it here makes it a one-file swap.

use std::time::Duration;

use backoff::backoff::Backoff;
use serde::Deserialize;

/// Exponential backoff with jitter, in the units a config file uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct RetryConfig {
    pub initial_interval_ms: u64,
    pub multiplier: f64,
    pub max_interval_ms: u64,
    /// Total attempts, the first one included, before a job goes dead.
    pub max_attempts: u32,
    /// 0.5 spreads each delay over ±50 %.
    pub randomization_factor: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_interval_ms: 1_000,
            multiplier: 2.0,
            max_interval_ms: 300_000,
            max_attempts: 8,
            randomization_factor: 0.5,
        }
    }
}

/// Decides when a failed job runs again and when it has had enough.
#[derive(Debug, Clone, Default)]
pub struct RetryPolicy {
    config: RetryConfig,
}

/// Past this many steps the interval sits at its maximum anyway
/// (2^64 × 1 ms overflows every sane cap), so stepping further is wasted work.
const MAX_STEPS: u32 = 64;

impl RetryPolicy {
    pub fn new(config: RetryConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Delay before the next attempt, after `attempt` attempts have failed
    /// (1 after the first failure). Jittered, so it can exceed
    /// `max_interval_ms` by up to the randomization factor.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let mut backoff = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(Duration::from_millis(self.config.initial_interval_ms))
            .with_multiplier(self.config.multiplier)
            .with_max_interval(Duration::from_millis(self.config.max_interval_ms))
            .with_randomization_factor(self.config.randomization_factor)
            .with_max_elapsed_time(None)
            .build();
        let mut delay = backoff.initial_interval;
        for _ in 0..attempt.clamp(1, MAX_STEPS) {
            // With no max elapsed time the backoff never gives up.
            delay = backoff.next_backoff().unwrap_or(backoff.max_interval);
        }
        delay
    }

    /// True once `attempts` attempts leave no retry.
    pub fn is_exhausted(&self, attempts: u32) -> bool {
        attempts >= self.config.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(randomization_factor: f64) -> RetryPolicy {
        RetryPolicy::new(RetryConfig {
            initial_interval_ms: 100,
            multiplier: 2.0,
            max_interval_ms: 1_000,
            max_attempts: 3,
            randomization_factor,
        })
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = policy(0.0);
        let millis: Vec<u128> = (1..=6).map(|a| policy.delay_for(a).as_millis()).collect();
        assert_eq!(millis, vec![100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(policy.delay_for(0).as_millis(), 100);
        assert_eq!(policy.delay_for(u32::MAX).as_millis(), 1_000);
    }

    #[test]
    fn jitter_stays_within_the_randomization_factor() {
        let policy = policy(0.5);
        for _ in 0..200 {
            let third = policy.delay_for(3).as_millis();
            assert!((200..=601).contains(&third), "{third}");
        }
    }

    #[test]
    fn exhausted_after_max_attempts() {
        let policy = policy(0.0);
        assert!(!policy.is_exhausted(1));
        assert!(!policy.is_exhausted(2));
        assert!(policy.is_exhausted(3));
        assert!(policy.is_exhausted(4));
    }

    #[test]
    fn config_defaults_fill_missing_fields() {
        let config: RetryConfig = serde_json::from_str(r#"{"max_attempts": 3}"#).unwrap();
        assert_eq!(
            config,
            RetryConfig {
                max_attempts: 3,
                ..RetryConfig::default()
            }
        );
    }
}

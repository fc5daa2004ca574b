//! The service's clock: the wall clock, which the tests move forward (save validation waits
//! 30 days; a test does not).
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// Now, shifted by what `advance` added (nothing outside tests). Clones share the shift.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    shift_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.shift_seconds.load(Ordering::Relaxed))
    }

    /// Moves this clock (and its clones) forward.
    pub fn advance(&self, by: Duration) {
        self.shift_seconds
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}

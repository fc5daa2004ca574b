//! Whether a save lasted. A save (a saved outcome, or an applied offer, which records one)
//! *holds* when the end user's subscription was neither deleted nor set to cancel within the
//! organization's window after it, and is *lost* when it was; until the window has passed
//! without either, it is *pending*. Cancellations are dated by Stripe's event time, so the
//! order events arrive in changes nothing.
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Held,
    Lost,
    Pending,
}

/// The standing of a save made at `saved_at`, given when the end user's subscription was
/// deleted or set to cancel (any order, any time).
pub fn standing(
    saved_at: DateTime<Utc>,
    cancellations: &[DateTime<Utc>],
    window_days: u32,
    now: DateTime<Utc>,
) -> Standing {
    let until = saved_at + Duration::days(window_days.into());
    if cancellations
        .iter()
        .any(|at| *at >= saved_at && *at < until)
    {
        Standing::Lost
    } else if now >= until {
        Standing::Held
    } else {
        Standing::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_is_lost_by_a_cancellation_in_its_window_and_held_after_it() {
        let saved = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let day = Duration::days(1);
        assert_eq!(standing(saved, &[], 30, saved + day), Standing::Pending);
        assert_eq!(standing(saved, &[], 30, saved + day * 30), Standing::Held);
        assert_eq!(
            standing(saved, &[saved + day * 29], 30, saved + day),
            Standing::Lost
        );
        // Before the save, or after its window: not this save's loss.
        assert_eq!(
            standing(
                saved,
                &[saved - day, saved + day * 31],
                30,
                saved + day * 40
            ),
            Standing::Held
        );
    }
}

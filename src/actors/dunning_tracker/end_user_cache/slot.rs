//! One cached end user packed into a 28-byte slot: its id, fingerprints of its identifiers,
//! and its state with when that was known.
use std::time::Duration;

use crate::actors::dunning_tracker::EndUserState;

/// `known_at` is kept in quarters of a second since the cache was made, rounded down (an
/// entry looks at most 0.25 s older than it is, never younger), in 29 bits: 4 years, after
/// which every entry looks too old to trust and is read again.
pub(super) const TICK: Duration = Duration::from_millis(250);
pub(super) const MAX_TICKS: u32 = (1 << 29) - 1;

const UPDATE_CARD: u32 = 1;
const ONBOARDING: u32 = 2;
const STRIPE_CUSTOMER: u32 = 4;

/// One cached end user in 28 bytes: its id, fingerprints of its email and Stripe customer id
/// (0: the row has none), and when it was known with its state's three bits. Halves of
/// 64-bit values are kept as `u32`s so that the slot needs no 8-byte alignment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) id: [u32; 2],
    pub(super) email: [u32; 2],
    pub(super) customer: [u32; 2],
    pub(super) known: u32,
}

pub(super) fn halves(value: u64) -> [u32; 2] {
    [value as u32, (value >> 32) as u32]
}

fn whole(halves: [u32; 2]) -> u64 {
    u64::from(halves[0]) | (u64::from(halves[1]) << 32)
}

impl Slot {
    pub(super) fn id(&self) -> i64 {
        whole(self.id) as i64
    }

    pub(super) fn email(&self) -> u64 {
        whole(self.email)
    }

    pub(super) fn customer(&self) -> u64 {
        whole(self.customer)
    }

    pub(super) fn state(&self) -> EndUserState {
        EndUserState {
            id: self.id(),
            show_update_card: self.known & UPDATE_CARD != 0,
            show_onboarding_prompt: self.known & ONBOARDING != 0,
            has_stripe_customer: self.known & STRIPE_CUSTOMER != 0,
        }
    }

    pub(super) fn set_state(&mut self, state: &EndUserState) {
        let bits = (if state.show_update_card {
            UPDATE_CARD
        } else {
            0
        }) | (if state.show_onboarding_prompt {
            ONBOARDING
        } else {
            0
        }) | (if state.has_stripe_customer {
            STRIPE_CUSTOMER
        } else {
            0
        });
        self.known = (self.known & !7) | bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_takes_28_bytes() {
        // The cache's memory at its bound is about this plus 15 bytes of indexes an end user.
        assert_eq!(size_of::<Slot>(), 28);
    }
}

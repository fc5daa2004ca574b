//! The seeded random generator that shuffles training examples and folds deterministically.

/// Marsaglia's xorshift64: tiny, deterministic, good enough for shuffling.
pub(super) struct XorShift64(u64);

impl XorShift64 {
    pub(super) fn new(seed: u64) -> Self {
        // The all-zero state is a fixed point; avoid it.
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Fisher–Yates shuffle.
    pub(super) fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let pick = (self.next_u64() % (last as u64 + 1)) as usize;
            items.swap(last, pick);
        }
    }
}

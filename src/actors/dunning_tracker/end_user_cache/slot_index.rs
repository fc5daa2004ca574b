//! The cache's indexes: slot numbers found by a hash of a key their slot holds.
/// Slot numbers found by a 64-bit hash of a key the slot holds: open addressing with linear
/// probing over 4-byte entries (slot number + 1; 0 is empty), sized for the cache's bound at
/// 80 % full, with no tombstones (a removal shifts the entries after it back). The caller
/// compares keys, through the slots.
pub(super) struct SlotIndex {
    /// Empty until the first insert.
    buckets: Vec<u32>,
    size: usize,
}

impl SlotIndex {
    pub(super) fn new(capacity: usize) -> Self {
        SlotIndex {
            buckets: Vec::new(),
            size: capacity + capacity / 4 + 16,
        }
    }

    /// Where a hash's probe starts (the high bits of the hash, scaled to the table).
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.buckets.len() as u128) >> 64) as usize
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.buckets.len() {
            0
        } else {
            i + 1
        }
    }

    pub(super) fn find(&self, hash: u64, is: impl Fn(usize) -> bool) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut i = self.home(hash);
        loop {
            match self.buckets[i] {
                0 => return None,
                entry if is(entry as usize - 1) => return Some(entry - 1),
                _ => i = self.next(i),
            }
        }
    }

    /// Adds slot `n`, whose key is not indexed yet.
    pub(super) fn insert(&mut self, hash: u64, n: u32) {
        if self.buckets.is_empty() {
            // Zeroed memory comes from the system untouched: pages become resident as used.
            self.buckets = vec![0; self.size];
        }
        let mut i = self.home(hash);
        while self.buckets[i] != 0 {
            i = self.next(i);
        }
        self.buckets[i] = n + 1;
    }

    /// Removes slot `n`, indexed under `hash`; `hash_of` gives any indexed slot's hash.
    pub(super) fn remove(&mut self, hash: u64, n: u32, hash_of: impl Fn(usize) -> u64) {
        if self.buckets.is_empty() {
            return;
        }
        let mut hole = self.home(hash);
        loop {
            match self.buckets[hole] {
                0 => return,
                entry if entry == n + 1 => break,
                _ => hole = self.next(hole),
            }
        }
        let mut j = hole;
        loop {
            j = self.next(j);
            let entry = self.buckets[j];
            if entry == 0 {
                break;
            }
            // An entry whose probe starts after the hole (cyclically, up to itself) must
            // stay; any other moves back into the hole, so that no probe crosses a gap.
            let home = self.home(hash_of(entry as usize - 1));
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.buckets[hole] = entry;
                hole = j;
            }
        }
        self.buckets[hole] = 0;
    }

    /// Entries indexed (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.iter().filter(|&&entry| entry != 0).count()
    }
}

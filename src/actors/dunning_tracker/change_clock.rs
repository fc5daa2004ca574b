//! A clock of end-user changes that keeps reads which overlapped a change of their end user
//! out of the cache.
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Which end users changed while reads were in flight. A read (a lookup or a warm-up page)
/// takes the clock's time when it starts; when it ends, a row it returned fills the cache
/// only if its end user has not changed since, so a row read before a change never hides
/// the change. Changes are kept only while a read that started before them is in flight.
#[derive(Default)]
pub(super) struct ChangeClock {
    now: u64,
    /// When everything was last forgotten at once.
    all_changed_at: u64,
    /// End user id → when it last changed; `order` holds the same in time order, to prune.
    changed_at: HashMap<i64, u64>,
    order: VecDeque<(u64, i64)>,
    /// Start times of the reads in flight, and how many started at each.
    reads: BTreeMap<u64, usize>,
}

impl ChangeClock {
    /// A read starts; returns its start time, to hand back to `read_ended`.
    pub(super) fn read_started(&mut self) -> u64 {
        *self.reads.entry(self.now).or_default() += 1;
        self.now
    }

    pub(super) fn read_ended(&mut self, started: u64) {
        if let Some(count) = self.reads.get_mut(&started) {
            *count -= 1;
            if *count == 0 {
                self.reads.remove(&started);
            }
        }
        self.prune();
    }

    pub(super) fn changed(&mut self, id: i64) {
        self.now += 1;
        if self.reads.is_empty() {
            return; // no read in flight can have seen the row before this change
        }
        self.changed_at.insert(id, self.now);
        self.order.push_back((self.now, id));
    }

    pub(super) fn all_changed(&mut self) {
        self.now += 1;
        self.all_changed_at = self.now;
        self.changed_at.clear();
        self.order.clear();
    }

    /// Whether what a read that started at `started` returned for end user `id` is still
    /// the database's.
    pub(super) fn unchanged_since(&self, started: u64, id: i64) -> bool {
        self.all_changed_at <= started && self.changed_at.get(&id).is_none_or(|&at| at <= started)
    }

    /// Changes no read in flight started before are of no more use.
    fn prune(&mut self) {
        let oldest = self.reads.keys().next().copied().unwrap_or(self.now);
        while let Some(&(at, id)) = self.order.front() {
            if at > oldest {
                break;
            }
            self.order.pop_front();
            if self.changed_at.get(&id) == Some(&at) {
                self.changed_at.remove(&id);
            }
        }
    }

    /// Changes remembered now (for tests).
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.changed_at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_overlapped_a_change_of_its_end_user_does_not_fill_the_cache() {
        let mut clock = ChangeClock::default();
        clock.changed(9); // nothing in flight: not remembered
        assert_eq!(clock.remembered(), 0);
        let first = clock.read_started();
        clock.changed(1);
        let second = clock.read_started();
        clock.changed(2);
        // The first read may have seen both rows before their changes, the second only 2's.
        assert!(!clock.unchanged_since(first, 1) && !clock.unchanged_since(first, 2));
        assert!(clock.unchanged_since(second, 1) && !clock.unchanged_since(second, 2));
        assert!(clock.unchanged_since(first, 3) && clock.unchanged_since(first, 9));
        clock.read_ended(first);
        // Only the change after the second read started still matters.
        assert_eq!(clock.remembered(), 1);
        assert!(!clock.unchanged_since(second, 2));
        clock.all_changed();
        assert!(!clock.unchanged_since(second, 3));
        clock.read_ended(second);
        assert_eq!(clock.remembered(), 0);
        let third = clock.read_started();
        assert!(clock.unchanged_since(third, 1) && clock.unchanged_since(third, 2));
    }
}

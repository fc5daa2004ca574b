//! The tracker's memory of end users: a bounded cache of what the cancel flow needs to know
//! about each, and a clock of changes that keeps reads which overlapped a change out of it.
//!
//! The cache is sized to hold every end user of a large organization (a million by default)
//! in a few tens of megabytes: an end user takes one 28-byte slot (its id, its state, when
//! that was known, and keyed 64-bit fingerprints of its email and Stripe customer id instead
//! of the strings) and a 4-byte entry in each of three indexes (by email, by customer, by
//! id), about 43 bytes in all, against ~290 for maps of shared strings.
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use super::EndUserState;
use crate::domain::EndUserRef;

/// An end user as the tracker knows it, and since when the cache knows this state to be
/// the database's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub id: i64,
    pub state: EndUserState,
    pub known_at: Instant,
}

/// The identifiers an end user's row has, which the cache finds it by.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Identifiers<'a> {
    pub email: Option<&'a str>,
    pub customer: Option<&'a str>,
}

/// `known_at` is kept in quarters of a second since the cache was made, rounded down (an
/// entry looks at most 0.25 s older than it is, never younger), in 29 bits: 4 years, after
/// which every entry looks too old to trust and is read again.
const TICK: Duration = Duration::from_millis(250);
const MAX_TICKS: u32 = (1 << 29) - 1;

const UPDATE_CARD: u32 = 1;
const ONBOARDING: u32 = 2;
const STRIPE_CUSTOMER: u32 = 4;

/// One cached end user in 28 bytes: its id, fingerprints of its email and Stripe customer id
/// (0: the row has none), and when it was known with its state's three bits. Halves of
/// 64-bit values are kept as `u32`s so that the slot needs no 8-byte alignment.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    id: [u32; 2],
    email: [u32; 2],
    customer: [u32; 2],
    known: u32,
}

fn halves(value: u64) -> [u32; 2] {
    [value as u32, (value >> 32) as u32]
}

fn whole(halves: [u32; 2]) -> u64 {
    u64::from(halves[0]) | (u64::from(halves[1]) << 32)
}

impl Slot {
    fn id(&self) -> i64 {
        whole(self.id) as i64
    }

    fn email(&self) -> u64 {
        whole(self.email)
    }

    fn customer(&self) -> u64 {
        whole(self.customer)
    }

    fn state(&self) -> EndUserState {
        EndUserState {
            id: self.id(),
            show_update_card: self.known & UPDATE_CARD != 0,
            show_onboarding_prompt: self.known & ONBOARDING != 0,
            has_stripe_customer: self.known & STRIPE_CUSTOMER != 0,
        }
    }

    fn set_state(&mut self, state: &EndUserState) {
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

/// Cached end users of every organization, at most `capacity` of them. When full, a new
/// entry takes the slot after the last one given up, in turn (so roughly the oldest entry
/// goes first), so that reaching the bound never empties the cache at once.
///
/// Its memory is reserved for the bound on the first insert, and mostly only the pages it
/// writes become resident: nothing is copied as it fills.
pub(super) struct EndUserCache {
    capacity: usize,
    slots: Vec<Slot>,
    /// Slots emptied by `remove`, used before any other.
    free: Vec<u32>,
    /// The next slot to give up when the cache is full.
    hand: usize,
    by_email: SlotIndex,
    by_customer: SlotIndex,
    by_id: SlotIndex,
    /// Fingerprints are keyed per process, so that nobody can choose identifiers that
    /// collide. Two identifiers of an organization share a fingerprint with a probability
    /// of about one in 2^64 per lookup and cached end user.
    keys: RandomState,
    epoch: Instant,
}

impl EndUserCache {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, u32::MAX as usize / 2);
        EndUserCache {
            capacity,
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            by_email: SlotIndex::new(capacity),
            by_customer: SlotIndex::new(capacity),
            by_id: SlotIndex::new(capacity),
            keys: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// The end user `who` names, when the cache holds the same answer the database would
    /// give: found by customer id (the stronger identity) when one is given and nothing is
    /// missing from the row, else by email.
    pub fn find(&self, organization_id: i64, who: &EndUserRef) -> Option<Known> {
        let slot = match (&who.stripe_customer_id, &who.email) {
            (Some(customer), email) => {
                let key = self.fingerprint(organization_id, b'c', customer);
                let slot = self.find_slot(&self.by_customer, key, Slot::customer)?;
                // The lookup would complete the row with the email: not an answer yet.
                (email.is_none() || slot.email() != 0).then_some(slot)?
            }
            (None, Some(email)) => {
                let key = self.fingerprint(organization_id, b'e', email.as_str());
                self.find_slot(&self.by_email, key, Slot::email)?
            }
            (None, None) => return None,
        };
        Some(Known {
            id: slot.id(),
            state: slot.state(),
            known_at: self.epoch + TICK * (slot.known >> 3),
        })
    }

    /// Remembers an end user's state as of now, under the identifiers its row has.
    pub fn insert(&mut self, organization_id: i64, state: EndUserState, ids: Identifiers<'_>) {
        let email = ids
            .email
            .map_or(0, |e| self.fingerprint(organization_id, b'e', e));
        let customer = ids
            .customer
            .map_or(0, |c| self.fingerprint(organization_id, b'c', c));
        let ticks = u32::try_from(self.epoch.elapsed().as_millis() / TICK.as_millis())
            .unwrap_or(MAX_TICKS)
            .min(MAX_TICKS);
        let mut slot = Slot {
            id: halves(state.id as u64),
            email: halves(email),
            customer: halves(customer),
            known: ticks << 3,
        };
        slot.set_state(&state);
        // Each identifier names one end user: whatever the cache held under any of them
        // (this end user's older entry, or a stale one) goes first.
        self.remove(state.id);
        let stale_email = (email != 0)
            .then(|| self.find_index(&self.by_email, email, Slot::email))
            .flatten();
        if let Some(n) = stale_email {
            self.remove_slot(n);
        }
        let stale_customer = (customer != 0)
            .then(|| self.find_index(&self.by_customer, customer, Slot::customer))
            .flatten();
        if let Some(n) = stale_customer {
            self.remove_slot(n);
        }
        let n = self.take_slot();
        self.slots[n as usize] = slot;
        self.by_id.insert(id_hash(state.id), n);
        if email != 0 {
            self.by_email.insert(email, n);
        }
        if customer != 0 {
            self.by_customer.insert(customer, n);
        }
    }

    /// Changes the cached state of an end user, if cached (it stays known since when it was).
    pub fn update(&mut self, id: i64, change: impl FnOnce(&mut EndUserState)) {
        if let Some(n) = self.by_id.find(id_hash(id), |n| self.slots[n].id() == id) {
            let slot = &mut self.slots[n as usize];
            let mut state = slot.state();
            change(&mut state);
            slot.set_state(&state);
        }
    }

    /// Forgets the end user (end-user ids are unique across organizations).
    pub fn remove(&mut self, id: i64) {
        if let Some(n) = self.by_id.find(id_hash(id), |n| self.slots[n].id() == id) {
            self.remove_slot(n);
        }
    }

    pub fn clear(&mut self) {
        *self = EndUserCache {
            keys: self.keys.clone(),
            epoch: self.epoch,
            ..EndUserCache::new(self.capacity)
        };
    }

    /// End users cached.
    pub fn entries(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn fingerprint(&self, organization_id: i64, kind: u8, identifier: &str) -> u64 {
        // 0 stands for "no identifier".
        self.keys
            .hash_one((organization_id, kind, identifier))
            .max(1)
    }

    fn find_index(&self, index: &SlotIndex, key: u64, field: fn(&Slot) -> u64) -> Option<u32> {
        index.find(key, |n| field(&self.slots[n]) == key)
    }

    fn find_slot(&self, index: &SlotIndex, key: u64, field: fn(&Slot) -> u64) -> Option<&Slot> {
        self.find_index(index, key, field)
            .map(|n| &self.slots[n as usize])
    }

    /// Takes a slot out of the indexes and onto the free list.
    fn remove_slot(&mut self, n: u32) {
        self.unindex(n);
        self.free.push(n);
    }

    fn unindex(&mut self, n: u32) {
        let slot = self.slots[n as usize];
        let slots = &self.slots;
        self.by_id
            .remove(id_hash(slot.id()), n, |m| id_hash(slots[m].id()));
        if slot.email() != 0 {
            self.by_email.remove(slot.email(), n, |m| slots[m].email());
        }
        if slot.customer() != 0 {
            self.by_customer
                .remove(slot.customer(), n, |m| slots[m].customer());
        }
    }

    /// A slot for a new entry: a free one, a new one below the bound, else the next in turn.
    fn take_slot(&mut self) -> u32 {
        if let Some(n) = self.free.pop() {
            return n;
        }
        if self.slots.len() < self.capacity {
            if self.slots.capacity() == 0 {
                self.slots.reserve_exact(self.capacity);
            }
            self.slots.push(Slot::default());
            return (self.slots.len() - 1) as u32;
        }
        let n = self.hand as u32;
        self.hand = (self.hand + 1) % self.capacity;
        self.unindex(n);
        n
    }
}

/// End-user ids are sequential: a multiplicative hash spreads them over the index.
fn id_hash(id: i64) -> u64 {
    (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Slot numbers found by a 64-bit hash of a key the slot holds: open addressing with linear
/// probing over 4-byte entries (slot number + 1; 0 is empty), sized for the cache's bound at
/// 80 % full, with no tombstones (a removal shifts the entries after it back). The caller
/// compares keys, through the slots.
struct SlotIndex {
    /// Empty until the first insert.
    buckets: Vec<u32>,
    size: usize,
}

impl SlotIndex {
    fn new(capacity: usize) -> Self {
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

    fn find(&self, hash: u64, is: impl Fn(usize) -> bool) -> Option<u32> {
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
    fn insert(&mut self, hash: u64, n: u32) {
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
    fn remove(&mut self, hash: u64, n: u32, hash_of: impl Fn(usize) -> u64) {
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
    fn len(&self) -> usize {
        self.buckets.iter().filter(|&&entry| entry != 0).count()
    }
}

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
    pub fn read_started(&mut self) -> u64 {
        *self.reads.entry(self.now).or_default() += 1;
        self.now
    }

    pub fn read_ended(&mut self, started: u64) {
        if let Some(count) = self.reads.get_mut(&started) {
            *count -= 1;
            if *count == 0 {
                self.reads.remove(&started);
            }
        }
        self.prune();
    }

    pub fn changed(&mut self, id: i64) {
        self.now += 1;
        if self.reads.is_empty() {
            return; // no read in flight can have seen the row before this change
        }
        self.changed_at.insert(id, self.now);
        self.order.push_back((self.now, id));
    }

    pub fn all_changed(&mut self) {
        self.now += 1;
        self.all_changed_at = self.now;
        self.changed_at.clear();
        self.order.clear();
    }

    /// Whether what a read that started at `started` returned for end user `id` is still
    /// the database's.
    pub fn unchanged_since(&self, started: u64, id: i64) -> bool {
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
    use crate::domain::Email;

    fn state(id: i64) -> EndUserState {
        EndUserState {
            id,
            show_update_card: id % 2 == 0,
            show_onboarding_prompt: true,
            has_stripe_customer: true,
        }
    }

    fn insert(cache: &mut EndUserCache, org: i64, id: i64) {
        let email = format!("u{id}@example.com");
        let customer = format!("cus_{id}");
        let ids = Identifiers {
            email: Some(&email),
            customer: Some(&customer),
        };
        cache.insert(org, state(id), ids);
    }

    fn by_email(id: i64) -> EndUserRef {
        EndUserRef::new(Email::parse(&format!("u{id}@example.com")).ok(), None).unwrap()
    }

    fn by_customer(id: i64) -> EndUserRef {
        EndUserRef::new(None, Some(format!("cus_{id}"))).unwrap()
    }

    #[test]
    fn a_slot_takes_28_bytes() {
        // The cache's memory at its bound is about this plus 15 bytes of indexes an end user.
        assert_eq!(std::mem::size_of::<Slot>(), 28);
    }

    #[test]
    fn the_cache_keeps_its_bound_giving_up_its_oldest_entries_first() {
        let mut cache = EndUserCache::new(10);
        for id in 1..=10 {
            insert(&mut cache, 1, id);
        }
        let found = cache.find(1, &by_email(4)).unwrap();
        assert_eq!((found.id, found.state), (4, state(4)));
        assert!((1..=10).all(|id| cache.find(1, &by_customer(id)).is_some()));
        // Three more push out the three oldest, and nothing else.
        for id in 11..=13 {
            insert(&mut cache, 1, id);
        }
        assert_eq!(cache.entries(), 10);
        assert!((1..=3).all(|id| cache.find(1, &by_email(id)).is_none()));
        assert!((1..=3).all(|id| cache.find(1, &by_customer(id)).is_none()));
        assert!((4..=13).all(|id| cache.find(1, &by_email(id)).is_some()));
        // Organizations are apart.
        assert!(cache.find(2, &by_email(8)).is_none());
    }

    #[test]
    fn a_forgotten_or_updated_end_user_is_found_as_it_now_is() {
        let mut cache = EndUserCache::new(4);
        for id in 1..=3 {
            insert(&mut cache, 1, id);
        }
        insert(&mut cache, 1, 1); // again: one entry, not two
        assert_eq!(cache.entries(), 3);
        cache.remove(1);
        assert!(cache.find(1, &by_email(1)).is_none());
        assert!(cache.find(1, &by_customer(1)).is_none());
        cache.update(2, |s| s.show_update_card = true);
        cache.update(1, |s| s.show_update_card = true); // not cached: nothing happens
        assert!(cache.find(1, &by_email(2)).unwrap().state.show_update_card);
        assert!(cache.find(1, &by_email(1)).is_none());
        cache.clear();
        assert_eq!(cache.entries(), 0);
        assert!(cache.find(1, &by_email(2)).is_none());
    }

    #[test]
    fn an_identifier_names_one_end_user() {
        let mut cache = EndUserCache::new(8);
        insert(&mut cache, 1, 1);
        // Another end user now has end user 1's email: the stale entry goes.
        let ids = Identifiers {
            email: Some("u1@example.com"),
            customer: None,
        };
        cache.insert(1, state(7), ids);
        assert_eq!(cache.find(1, &by_email(1)).unwrap().id, 7);
        assert!(cache.find(1, &by_customer(1)).is_none());
        assert_eq!(cache.entries(), 1);
    }

    #[test]
    fn the_indexes_agree_with_a_map_through_many_inserts_and_removals() {
        // Small bound, many keys: entries are evicted, removed and re-added in every order,
        // which exercises probing across the table's end and shifting entries back.
        let mut cache = EndUserCache::new(300);
        let mut model: HashMap<i64, usize> = HashMap::new();
        let mut seed = 7u64;
        for step in 0..20_000usize {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let id = (seed >> 33) as i64 % 1_000 + 1;
            if seed.is_multiple_of(5) {
                cache.remove(id);
                model.remove(&id);
            } else {
                insert(&mut cache, 1, id);
                model.insert(id, step);
            }
            assert_eq!(cache.entries(), cache.by_id.len());
            assert!(cache.entries() <= 300);
        }
        // Whatever is cached is right, and found under both identifiers.
        let mut cached = 0;
        for id in 1..=1_000 {
            match (
                cache.find(1, &by_email(id)),
                cache.find(1, &by_customer(id)),
            ) {
                (Some(a), Some(b)) => {
                    assert!(a.id == id && b.id == id && model.contains_key(&id));
                    cached += 1;
                }
                (None, None) => {}
                other => panic!("end user {id} found under one identifier only: {other:?}"),
            }
        }
        assert_eq!(cached, cache.entries());
        assert!(cached > 200, "the cache kept only {cached} of 300");
    }

    #[test]
    fn a_row_without_the_email_asked_for_is_not_an_answer() {
        let mut cache = EndUserCache::new(4);
        let ids = Identifiers {
            email: None,
            customer: Some("cus_1"),
        };
        cache.insert(1, state(1), ids);
        let both = EndUserRef::new(
            Email::parse("u1@example.com").ok(),
            Some("cus_1".to_owned()),
        )
        .unwrap();
        // The lookup must complete the row with the email, so it goes to the database.
        assert!(cache.find(1, &both).is_none());
        assert!(cache.find(1, &by_customer(1)).is_some());
    }

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

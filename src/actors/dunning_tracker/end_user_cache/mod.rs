//! The tracker's memory of end users: a bounded cache of what the cancel flow needs to know
//! about each.
//!
//! The cache is sized to hold every end user of a large organization (a million by default)
//! in a few tens of megabytes: an end user takes one 28-byte slot (its id, its state, when
//! that was known, and keyed 64-bit fingerprints of its email and Stripe customer id instead
//! of the strings, see `slot`) and a 4-byte entry in each of three indexes (by email, by
//! customer, by id, see `slot_index`), about 43 bytes in all, against ~290 for maps of
//! shared strings.
mod slot;
mod slot_index;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Instant;

use super::EndUserState;
use crate::domain::EndUserRef;
use slot::{halves, Slot, MAX_TICKS, TICK};
use slot_index::SlotIndex;

/// An end user as the tracker knows it, and since when the cache knows this state to be
/// the database's.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub(super) id: i64,
    pub(super) state: EndUserState,
    pub(super) known_at: Instant,
}

/// The identifiers an end user's row has, which the cache finds it by.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Identifiers<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) customer: Option<&'a str>,
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
    pub(super) fn new(capacity: usize) -> Self {
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
    pub(super) fn find(&self, organization_id: i64, who: &EndUserRef) -> Option<Known> {
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
    pub(super) fn insert(
        &mut self,
        organization_id: i64,
        state: EndUserState,
        ids: Identifiers<'_>,
    ) {
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
    pub(super) fn update(&mut self, id: i64, change: impl FnOnce(&mut EndUserState)) {
        if let Some(n) = self.by_id.find(id_hash(id), |n| self.slots[n].id() == id) {
            let slot = &mut self.slots[n as usize];
            let mut state = slot.state();
            change(&mut state);
            slot.set_state(&state);
        }
    }

    /// Forgets the end user (end-user ids are unique across organizations).
    pub(super) fn remove(&mut self, id: i64) {
        if let Some(n) = self.by_id.find(id_hash(id), |n| self.slots[n].id() == id) {
            self.remove_slot(n);
        }
    }

    pub(super) fn clear(&mut self) {
        *self = EndUserCache {
            keys: self.keys.clone(),
            epoch: self.epoch,
            ..EndUserCache::new(self.capacity)
        };
    }

    /// End users cached.
    pub(super) fn entries(&self) -> usize {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
}

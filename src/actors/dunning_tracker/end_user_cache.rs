//! The tracker's memory of end users: a bounded cache of what the cancel flow needs to know
//! about each, and a clock of changes that keeps reads which overlapped a change out of it.
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::mem;
use std::sync::Arc;
use std::time::Instant;

use super::EndUserState;
use crate::domain::EndUserRef;

/// An end user as the tracker remembers it.
#[derive(Debug, Clone)]
pub(super) struct KnownUser {
    pub id: i64,
    pub email: Option<Arc<str>>,
    pub customer: Option<Arc<str>>,
    pub state: EndUserState,
    /// Since when the cache knows this state to be the database's.
    pub known_at: Instant,
}

/// Shared by the cache's two indexes and the requests that found it.
pub(super) type Known = Arc<KnownUser>;

/// One organization's cached end users, by email and by Stripe customer id (and by id, to
/// forget them when another instance announces a change).
#[derive(Default)]
struct OrgUsers {
    by_email: HashMap<Arc<str>, Known>,
    by_customer: HashMap<Arc<str>, Known>,
    by_id: HashMap<i64, Known>,
}

/// Cached end users of every organization, at most `capacity` of them: two generations, the
/// newer filled and both read; when the newer holds half the capacity it becomes the older
/// and the older is dropped, so that the bound never empties the cache at once.
pub(super) struct EndUserCache {
    capacity: usize,
    newer: Generation,
    older: Generation,
}

impl EndUserCache {
    pub fn new(capacity: usize) -> Self {
        EndUserCache {
            capacity,
            newer: Generation::default(),
            older: Generation::default(),
        }
    }

    pub fn find(&self, organization_id: i64, who: &EndUserRef) -> Option<&Known> {
        self.newer
            .find(organization_id, who)
            .or_else(|| self.older.find(organization_id, who))
    }

    pub fn insert(&mut self, organization_id: i64, known: &Known) {
        if self.newer.users >= self.capacity / 2 {
            self.older = mem::take(&mut self.newer);
        }
        self.newer.insert(organization_id, known);
    }

    /// Forgets the end user, under whichever identifiers each generation holds it.
    pub fn remove(&mut self, organization_id: i64, id: i64) {
        self.newer.remove(organization_id, id);
        self.older.remove(organization_id, id);
    }

    pub fn clear(&mut self) {
        self.newer = Generation::default();
        self.older = Generation::default();
    }

    /// The end user with this id, if cached.
    pub fn by_id(&self, organization_id: i64, id: i64) -> Option<&Known> {
        [&self.newer, &self.older]
            .into_iter()
            .find_map(|generation| generation.orgs.get(&organization_id)?.by_id.get(&id))
    }

    /// Cached entries (an end user cached in both generations counts twice).
    pub fn entries(&self) -> usize {
        self.newer.users + self.older.users
    }
}

/// One generation of the cache.
#[derive(Default)]
struct Generation {
    orgs: HashMap<i64, OrgUsers>,
    users: usize,
}

impl Generation {
    /// The end user `who` names, when this generation holds the same answer the database
    /// would give: found by customer id (the stronger identity) when one is given and
    /// nothing is missing from the row, else by email.
    fn find(&self, organization_id: i64, who: &EndUserRef) -> Option<&Known> {
        let org = self.orgs.get(&organization_id)?;
        match (&who.stripe_customer_id, &who.email) {
            (Some(customer), email) => {
                let known = org.by_customer.get(customer.as_str())?;
                (email.is_none() || known.email.is_some()).then_some(known)
            }
            (None, Some(email)) => org.by_email.get(email.as_str()),
            (None, None) => None,
        }
    }

    fn insert(&mut self, organization_id: i64, known: &Known) {
        let org = self.orgs.entry(organization_id).or_default();
        // An end user's identifiers are only ever added to, so a newer entry replaces the
        // older under every identifier it had.
        if org.by_id.insert(known.id, known.clone()).is_none() {
            self.users += 1;
        }
        if let Some(email) = &known.email {
            org.by_email.insert(email.clone(), known.clone());
        }
        if let Some(customer) = &known.customer {
            org.by_customer.insert(customer.clone(), known.clone());
        }
    }

    fn remove(&mut self, organization_id: i64, id: i64) {
        let Some(org) = self.orgs.get_mut(&organization_id) else {
            return;
        };
        let Some(user) = org.by_id.remove(&id) else {
            return;
        };
        self.users -= 1;
        if let Some(email) = &user.email {
            org.by_email.remove(email);
        }
        if let Some(customer) = &user.customer {
            org.by_customer.remove(customer);
        }
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

    fn user(id: i64) -> Known {
        Arc::new(KnownUser {
            id,
            email: Some(Arc::from(format!("u{id}@example.com").as_str())),
            customer: Some(Arc::from(format!("cus_{id}").as_str())),
            state: EndUserState {
                id,
                show_update_card: false,
                show_onboarding_prompt: true,
                has_stripe_customer: true,
            },
            known_at: Instant::now(),
        })
    }

    fn by_email(id: i64) -> EndUserRef {
        EndUserRef::new(Email::parse(&format!("u{id}@example.com")).ok(), None).unwrap()
    }

    fn by_customer(id: i64) -> EndUserRef {
        EndUserRef::new(None, Some(format!("cus_{id}"))).unwrap()
    }

    #[test]
    fn the_cache_keeps_its_bound_without_emptying_at_once() {
        let mut cache = EndUserCache::new(10);
        for id in 1..=5 {
            cache.insert(1, &user(id));
        }
        // One end user known by email and customer counts once: all five are still there.
        assert!((1..=5).all(|id| cache.find(1, &by_email(id)).is_some()));
        // The sixth starts a new generation; the first five are still read.
        cache.insert(1, &user(6));
        assert!((1..=6).all(|id| cache.find(1, &by_customer(id)).is_some()));
        // Filling that generation drops the first: at most `capacity` end users, never none.
        for id in 7..=11 {
            cache.insert(1, &user(id));
        }
        assert!((1..=5).all(|id| cache.find(1, &by_email(id)).is_none()));
        assert!((6..=11).all(|id| cache.find(1, &by_email(id)).is_some()));
        // Organizations are apart.
        assert!(cache.find(2, &by_email(8)).is_none());
    }

    #[test]
    fn a_forgotten_end_user_is_gone_from_both_generations() {
        let mut cache = EndUserCache::new(4);
        let first = user(1);
        cache.insert(1, &first);
        cache.insert(1, &user(2));
        cache.insert(1, &user(3)); // user 1 is now in the older generation
        cache.insert(1, &first); // and again in the newer
        cache.remove(1, 1);
        assert!(cache.find(1, &by_email(1)).is_none());
        assert!(cache.find(1, &by_customer(1)).is_none());
        assert!(cache.find(1, &by_email(2)).is_some());
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

    #[test]
    fn a_row_without_the_email_asked_for_is_not_an_answer() {
        let mut cache = EndUserCache::new(4);
        let mut only_customer = Arc::unwrap_or_clone(user(1));
        only_customer.email = None;
        cache.insert(1, &Arc::new(only_customer));
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

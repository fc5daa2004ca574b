//! Deciding, from the rows read, which row settles each lookup and what must be written
//! (created or completed) before the rest are settled.
use super::Identity;
use crate::domain::EndUserRef;

/// The row `who` names: by Stripe customer id (the stronger identity when the two point at
/// different rows), else by email.
fn pick<'r>(rows: &'r [Identity], who: &EndUserRef) -> Option<&'r Identity> {
    let email = who.email.as_ref().map(|e| e.as_str());
    let customer = who.stripe_customer_id.as_deref();
    let by_customer = customer.and_then(|c| {
        rows.iter()
            .find(|u| u.stripe_customer_id.as_deref() == Some(c))
    });
    by_customer.or_else(|| email.and_then(|e| rows.iter().find(|u| u.email.as_deref() == Some(e))))
}

/// What a batch of lookups writes before each finds a complete row: end users to create
/// (email, Stripe customer id) and identifiers to add to known ones (id, email, customer).
#[derive(Default)]
pub(super) struct IdentityWrites<'a> {
    pub(super) created: Vec<(Option<&'a str>, Option<&'a str>)>,
    pub(super) completed: Vec<(i64, Option<&'a str>, Option<&'a str>)>,
    /// Identifiers this batch writes: no two of its rows may take the same one.
    claimed: std::collections::HashSet<(bool, &'a str)>,
}

impl<'a> IdentityWrites<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.created.is_empty() && self.completed.is_empty()
    }

    /// Claims the identifiers a write takes; false (claiming nothing) when another write of
    /// the batch has one of them.
    fn claim(&mut self, email: Option<&'a str>, customer: Option<&'a str>) -> bool {
        let wanted = [email.map(|e| (true, e)), customer.map(|c| (false, c))];
        if wanted.iter().flatten().any(|id| self.claimed.contains(id)) {
            return false;
        }
        self.claimed.extend(wanted.into_iter().flatten());
        true
    }
}

/// Where one lookup stands after a read.
pub(super) enum Settled {
    /// Its row, complete (or as complete as it may be made).
    Found(Identity),
    /// It needs a write first (or another round, when another lookup of the batch claimed
    /// one of its identifiers).
    Waiting,
}

/// Decides, from the rows read, what each unsettled lookup needs, and adds the writes that
/// settle it to `writes`.
pub(super) fn settle<'a>(
    rows: &[Identity],
    who: &'a EndUserRef,
    writes: &mut IdentityWrites<'a>,
) -> Settled {
    let email = who.email.as_ref().map(|e| e.as_str());
    let customer = who.stripe_customer_id.as_deref();
    let Some(row) = pick(rows, who) else {
        writes
            .claim(email, customer)
            .then(|| writes.created.push((email, customer)));
        return Settled::Waiting;
    };
    let (add_email, add_customer) = row.lacks(who);
    // An identifier another row already owns is not taken from it: the two rows stay
    // distinct rather than being merged by guesswork.
    let owned = |email: Option<&str>, customer: Option<&str>| {
        rows.iter().any(|u| {
            u.id != row.id
                && (email.is_some() && u.email.as_deref() == email
                    || customer.is_some() && u.stripe_customer_id.as_deref() == customer)
        })
    };
    let add_email = add_email.filter(|e| !owned(Some(e), None));
    let add_customer = add_customer.filter(|c| !owned(None, Some(c)));
    if add_email.is_none() && add_customer.is_none() {
        return Settled::Found(row.clone());
    }
    if writes.claim(add_email, add_customer) {
        writes.completed.push((row.id, add_email, add_customer));
    }
    Settled::Waiting
}

/// The row that settles a lookup as it stands, if the rows read hold it: the end user it
/// names, with every identifier the lookup names (or as many as may be added: one another
/// row owns stays with that row). None: it must be created or completed first.
pub(crate) fn settled(rows: &[Identity], who: &EndUserRef) -> Option<Identity> {
    match settle(rows, who, &mut IdentityWrites::default()) {
        Settled::Found(row) => Some(row),
        Settled::Waiting => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    fn who(email: Option<&str>, customer: Option<&str>) -> EndUserRef {
        EndUserRef {
            email: email.map(|e| Email::parse(e).unwrap()),
            stripe_customer_id: customer.map(str::to_owned),
        }
    }

    fn row(id: i64, email: Option<&str>, customer: Option<&str>) -> Identity {
        Identity {
            organization_id: 1,
            id,
            email: email.map(str::to_owned),
            stripe_customer_id: customer.map(str::to_owned),
            needs_payment_update: false,
            succeeded: false,
        }
    }

    #[test]
    fn a_lookup_completes_its_row_unless_another_row_owns_the_identifier() {
        let rows = [
            row(1, Some("a@example.com"), None),
            row(2, None, Some("cus_taken")),
        ];
        let mut writes = IdentityWrites::default();
        let gains = who(Some("a@example.com"), Some("cus_new"));
        assert!(matches!(
            settle(&rows, &gains, &mut writes),
            Settled::Waiting
        ));
        assert_eq!(writes.completed, [(1, None, Some("cus_new"))]);
        // The customer id belongs to row 2: the lookup picks row 2 (the stronger identity),
        // which cannot take the email row 1 owns, so it is settled as it is.
        let mut writes = IdentityWrites::default();
        let owned = who(Some("a@example.com"), Some("cus_taken"));
        assert!(matches!(settle(&rows, &owned, &mut writes), Settled::Found(r) if r.id == 2));
        assert!(writes.is_empty());
        // Nobody stored: created, and a second lookup claiming the same email waits a round.
        let mut writes = IdentityWrites::default();
        let new = who(Some("new@example.com"), None);
        let same = who(Some("new@example.com"), Some("cus_9"));
        assert!(matches!(settle(&rows, &new, &mut writes), Settled::Waiting));
        assert!(matches!(
            settle(&rows, &same, &mut writes),
            Settled::Waiting
        ));
        assert_eq!(writes.created, [(Some("new@example.com"), None)]);
    }
}

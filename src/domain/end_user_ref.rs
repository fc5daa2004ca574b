use super::Email;

/// How a request names an end user: by email, by Stripe customer id, or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndUserRef {
    pub email: Option<Email>,
    pub stripe_customer_id: Option<String>,
}

impl EndUserRef {
    /// None when the request names nobody (an anonymous visitor).
    pub fn new(email: Option<Email>, stripe_customer_id: Option<String>) -> Option<EndUserRef> {
        (email.is_some() || stripe_customer_id.is_some()).then_some(EndUserRef {
            email,
            stripe_customer_id,
        })
    }
}

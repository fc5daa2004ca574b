//! Which success signals are payments: a payment clears the dunning flag.

/// Success-signal events that mean money arrived. Matched case-insensitively.
pub const PAYMENT_EVENTS: [&str; 8] = [
    "payment_succeeded",
    "invoice_paid",
    "invoice.paid",
    "invoice.payment_succeeded",
    "charge_succeeded",
    "charge.succeeded",
    "subscription_renewed",
    "payment_method_updated",
];

pub fn is_payment_event(event: &str) -> bool {
    PAYMENT_EVENTS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(event.trim()))
}

//! Support tickets' rules: the statuses a ticket moves through and how urgent it is.

/// A ticket's statuses, as support staff set them.
pub const STATUSES: [&str; 3] = ["open", "pending", "solved"];

/// A ticket's priorities, most urgent first (see [`priority`]).
pub const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

/// Whether a reason read as a support matter opens a ticket: only when the reading is at
/// least `min_confidence` sure (`sentiment.ticket_min_confidence`). No ticket from a guess:
/// a reading below that bar, of any action, is what analytics counts as low confidence.
pub fn opens_ticket(reads_as_support: bool, confidence: f64, min_confidence: f64) -> bool {
    reads_as_support && confidence >= min_confidence
}

/// How urgent a ticket is, from how negative the reason reads and what it is about.
pub fn priority(sentiment: f64, category: &str) -> &'static str {
    let serious = matches!(category, "data_loss" | "outage");
    if sentiment <= -0.6 || (serious && sentiment <= -0.3) {
        "urgent"
    } else if sentiment <= -0.3 || serious {
        "high"
    } else if sentiment < 0.1 {
        "normal"
    } else {
        "low"
    }
}

#[cfg(test)]
mod tests {
    use super::{opens_ticket, priority};

    #[test]
    fn only_a_confident_support_reading_opens_a_ticket() {
        assert!(opens_ticket(true, 0.6, 0.6));
        assert!(opens_ticket(true, 0.93, 0.6));
        assert!(!opens_ticket(true, 0.59, 0.6));
        assert!(!opens_ticket(false, 0.99, 0.6));
        assert!(opens_ticket(true, 0.0, 0.0));
    }

    #[test]
    fn priority_follows_negativity_and_seriousness() {
        assert_eq!(priority(-0.9, "anger"), "urgent");
        assert_eq!(priority(-0.4, "data_loss"), "urgent");
        assert_eq!(priority(-0.4, "bug"), "high");
        assert_eq!(priority(0.0, "outage"), "high");
        assert_eq!(priority(-0.1, "bug"), "normal");
        assert_eq!(priority(0.5, "missing_feature"), "low");
    }
}

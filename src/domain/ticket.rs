//! Support tickets' rules: the statuses a ticket moves through, how urgent it is, and where
//! an organization's tickets are delivered.

use crate::domain::validation::ValidationErrors;

/// A ticket's statuses, as support staff set them.
pub const STATUSES: [&str; 3] = ["open", "pending", "solved"];

/// A ticket's priorities, most urgent first (see [`priority`]).
pub const PRIORITIES: [&str; 4] = ["urgent", "high", "normal", "low"];

/// Where an organization's tickets are delivered: an http(s) URL and a format (`json`, or
/// `slack` for an incoming webhook), both checked once, here, for the CLI and the dashboard.
pub fn parse_ticket_webhook(url: &str, format: &str) -> Result<(String, String), ValidationErrors> {
    let (url, format) = (url.trim(), format.trim());
    let mut errors = ValidationErrors::default();
    if url.is_empty() {
        errors.add("url", "The url field is required.");
    } else if url.chars().count() > 2048 || !crate::domain::offer::is_web_url(url) {
        errors.add(
            "url",
            "The url field must be an http(s) URL of at most 2048 characters.",
        );
    }
    if !matches!(format, "json" | "slack") {
        errors.add("format", "The selected format is invalid (json or slack).");
    }
    if errors.is_empty() {
        Ok((url.to_owned(), format.to_owned()))
    } else {
        Err(errors)
    }
}

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

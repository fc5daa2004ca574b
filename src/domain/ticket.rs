//! Support tickets' rules: the statuses a ticket moves through and how urgent it is.

/// A ticket's statuses, as support staff set them.
pub const STATUSES: [&str; 3] = ["open", "pending", "solved"];

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
    use super::priority;

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

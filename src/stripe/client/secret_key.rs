//! The Stripe secret key, kept out of logs and error messages.

/// A Stripe secret key (`sk_live_…` / `sk_test_…`).
///
/// Deliberately has no `Display`, and `Debug` is redacted, so it cannot leak
/// into logs, error messages or `tracing` fields by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(key: impl Into<String>) -> Self {
        SecretKey(key.into())
    }

    /// The raw key. Only for putting it into the `Authorization` header or
    /// into encrypted storage.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_debug_is_redacted() {
        let k = SecretKey::new("sk_test_supersecret");
        assert_eq!(format!("{k:?}"), "SecretKey(****)");
        assert!(!format!("{:?}", Some(&k)).contains("supersecret"));
    }
}

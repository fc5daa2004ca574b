//! Checking an idempotency key before it is sent, so a key Stripe would reject does not
//! burn an attempt.

use super::super::error::StripeError;

/// Stripe rejects idempotency keys longer than this.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Stripe keeps keys up to 255 characters; longer ones are rejected, so fail
/// before sending rather than burn an attempt.
pub fn validate_idempotency_key(key: &str) -> Result<(), StripeError> {
    if key.is_empty() {
        return Err(StripeError::InvalidRequest("empty idempotency key".into()));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(StripeError::InvalidRequest(format!(
            "idempotency key is {} characters, Stripe allows at most {MAX_IDEMPOTENCY_KEY_LEN}",
            key.len()
        )));
    }
    if key.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(StripeError::InvalidRequest(
            "idempotency key must be printable ASCII (it is sent as a header)".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_length_is_checked() {
        assert!(validate_idempotency_key(&"a".repeat(255)).is_ok());
        let err = validate_idempotency_key(&"a".repeat(256)).unwrap_err();
        assert!(!err.is_transient());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key("bad\nkey").is_err());
    }
}

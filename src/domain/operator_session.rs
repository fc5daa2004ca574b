//! The operators' dashboard session (`/ops`): signed in with the operator token, kept in a
//! cookie that carries its expiry and an HMAC of it keyed by the token. Nothing is stored;
//! changing `admin.token` ends every such session.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long an operator stays signed in.
pub const OPERATOR_SESSION_SECONDS: i64 = 12 * 3600;

fn mac(admin_token: &str, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(admin_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"saveloops operator session\0");
    mac.update(expires.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The cookie's value for a session that ends at `expires` (Unix seconds).
pub fn operator_session(admin_token: &str, expires: i64) -> String {
    format!("{expires}.{}", mac(admin_token, expires))
}

/// Whether `value` is a session this token signed that has not ended at `now`.
pub fn operator_session_valid(admin_token: &str, value: &str, now: i64) -> bool {
    let Some((expires, given)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    !admin_token.is_empty()
        && expires > now
        && expires - now <= OPERATOR_SESSION_SECONDS
        && bool::from(given.as_bytes().ct_eq(mac(admin_token, expires).as_bytes()))
}

/// Whether the typed token is the operator token (constant time).
pub fn is_operator_token(admin_token: &str, typed: &str) -> bool {
    !admin_token.is_empty() && bool::from(typed.trim().as_bytes().ct_eq(admin_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_until_it_expires_and_only_for_its_token() {
        let value = operator_session("token-a", 1_000);
        assert!(operator_session_valid("token-a", &value, 999));
        assert!(!operator_session_valid("token-a", &value, 1_000));
        assert!(!operator_session_valid("token-b", &value, 999));
        assert!(!operator_session_valid("", &value, 999));
        assert!(!operator_session_valid("token-a", "1000.00", 999));
        assert!(!operator_session_valid("token-a", "garbage", 999));
        let far = operator_session("token-a", 10_000_000);
        assert!(
            !operator_session_valid("token-a", &far, 0),
            "no session outlives its lifetime"
        );
        assert!(is_operator_token("token-a", " token-a "));
        assert!(!is_operator_token("", ""));
    }
}

//! Stripe's webhook signatures, checked as Stripe documents them: the `Stripe-Signature`
//! header `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256 keyed with the endpoint's
//! signing secret (`whsec_…`, used as it is) over `"{t}.{raw body}"`, compared in constant
//! time, and the timestamp within the tolerance of now.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::fields::Input;
use super::validation::ValidationErrors;

/// Whether `secret` looks like what Stripe's dashboard shows for an endpoint (`whsec_…`).
pub fn is_signing_secret(secret: &str) -> bool {
    secret.len() > "whsec_".len()
        && secret.starts_with("whsec_")
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The signing secret of a `POST /stripe/webhook-secrets` body.
pub fn secret_from_body(body: &Map<String, Value>) -> Result<String, ValidationErrors> {
    let mut input = Input::new(body);
    let secret = input.string("secret", true, 255);
    input.finish()?;
    let secret = secret.expect("validated above");
    if !is_signing_secret(&secret) {
        return Err(ValidationErrors::single(
            "secret",
            "The secret must be a Stripe webhook signing secret (whsec_ followed by letters and digits).",
        ));
    }
    Ok(secret)
}

/// Stripe's libraries' default: a signed timestamp more than 5 minutes away is refused, so
/// that a captured delivery cannot be replayed later.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery's signature is refused (every one is a 400: Stripe retries, nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefused {
    #[error("The Stripe-Signature header is missing.")]
    Missing,
    #[error(
        "The Stripe-Signature header cannot be read: it needs t=<timestamp> and v1=<signature>."
    )]
    Unparsable,
    #[error("No v1 signature of the Stripe-Signature header matches an active signing secret.")]
    NoMatch,
    #[error("The Stripe-Signature timestamp is more than 300 seconds from now.")]
    Stale,
}

/// The parts of a `Stripe-Signature` header Saveloops checks.
#[derive(Debug, PartialEq, Eq)]
struct SignatureHeader {
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

fn parse_header(header: &str) -> Result<SignatureHeader, SignatureRefused> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureRefused::Unparsable)?,
                );
            }
            "t" => return Err(SignatureRefused::Unparsable),
            // A v1 that is not hex can match nothing; others (v0, a future scheme) are skipped.
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(SignatureHeader {
            timestamp,
            signatures,
        }),
        _ => Err(SignatureRefused::Unparsable),
    }
}

/// The v1 signature of `body` at `timestamp` with `secret` (what Stripe puts in the header).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a delivery against the endpoint's active secrets (two during a rotation): some
/// `v1` must match some secret, and the timestamp must lie within the tolerance of `now`.
/// Answers which secret matched (its index in `secrets`).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: DateTime<Utc>,
) -> Result<usize, SignatureRefused> {
    let header = parse_header(header.ok_or(SignatureRefused::Missing)?)?;
    let matched = secrets.iter().position(|secret| {
        let expected = mac(secret, header.timestamp, body);
        // Every candidate is compared, in constant time each, so timing tells nothing of which.
        header.signatures.iter().fold(false, |found, given| {
            found | bool::from(given.ct_eq(&expected))
        })
    });
    let matched = matched.ok_or(SignatureRefused::NoMatch)?;
    if (now.timestamp() - header.timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureRefused::Stale);
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn accepts_what_stripe_signs_with_any_active_secret() {
        let body = br#"{"id":"evt_1"}"#;
        let header = format!("t=1700000000,v1={}", sign(SECRET, 1_700_000_000, body));
        let secrets = vec!["whsec_old".to_owned(), SECRET.to_owned()];
        assert_eq!(
            verify(Some(header.as_str()), body, &secrets, at(1_700_000_100)),
            Ok(1)
        );
        // Several v1 (Stripe sends one per active secret while its own secret rolls).
        let header = format!(
            "t=1700000000,v1=00ff,v0=abc,v1={}",
            sign(SECRET, 1_700_000_000, body)
        );
        assert_eq!(
            verify(Some(header.as_str()), body, &secrets, at(1_700_000_000)),
            Ok(1)
        );
    }

    #[test]
    fn refuses_changed_bodies_wrong_secrets_stale_and_unreadable_headers() {
        let body = br#"{"id":"evt_1"}"#;
        let header = format!("t=1700000000,v1={}", sign(SECRET, 1_700_000_000, body));
        let secrets = vec![SECRET.to_owned()];
        let now = at(1_700_000_000);
        assert_eq!(
            verify(Some(header.as_str()), br#"{"id": "evt_1"}"#, &secrets, now),
            Err(SignatureRefused::NoMatch)
        );
        assert_eq!(
            verify(
                Some(header.as_str()),
                body,
                &["whsec_other".to_owned()],
                now
            ),
            Err(SignatureRefused::NoMatch)
        );
        assert_eq!(
            verify(Some(header.as_str()), body, &secrets, at(1_700_000_301)),
            Err(SignatureRefused::Stale)
        );
        assert_eq!(
            verify(None, body, &secrets, now),
            Err(SignatureRefused::Missing)
        );
        for bad in ["", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1,t=2,v1=00"] {
            assert_eq!(
                verify(Some(bad), body, &secrets, now),
                Err(SignatureRefused::Unparsable),
                "{bad}"
            );
        }
    }
}

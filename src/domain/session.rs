//! End-user sessions: a JWT (HS256, RFC 7519) that a company's backend signs with one of its
//! signing secrets, naming one end user, so that a browser can run the cancel flow without
//! the organization's API key. The token is read here; where the secret comes from is not.
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::fields::Input;
use super::validation::ValidationErrors;
use super::{Email, EndUserRef, Mrr};

/// The longest a session may live: a token is meant for one visit to the cancel flow.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::hours(24);
/// A signing secret's identifier (the token header's `kid`) starts with this.
pub const KID_PREFIX: &str = "sks_";

/// What a verified token grants: one end user of one organization, until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Stable for one token (a digest of its signature): what the session was shown and
    /// what it applied are kept under it.
    pub id: String,
    pub expires_at: DateTime<Utc>,
    pub email: Option<Email>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub mrr: Option<Mrr>,
}

impl Session {
    pub fn end_user(&self) -> EndUserRef {
        EndUserRef::new(self.email.clone(), self.stripe_customer_id.clone())
            .expect("a session names an end user")
    }
}

/// Why a token is refused (401). The messages are for the company's developers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionRefused {
    #[error("The session token is malformed.")]
    Malformed,
    #[error("The session token must be signed with HS256.")]
    Algorithm,
    #[error("The session token's header must name its signing secret in `kid`.")]
    MissingKid,
    #[error("The session token's signing secret is unknown or revoked.")]
    UnknownKid,
    #[error("The session token's signature is invalid.")]
    Signature,
    #[error("The session token has expired.")]
    Expired,
    #[error("The session token must not live longer than 24 hours.")]
    TooLong,
    #[error("The session token's claims are invalid: {0}")]
    Claims(String),
}

/// Whether `kid` could name a signing secret (`sks_` and hex digits): anything else is
/// refused before it reaches a query.
pub fn is_kid(kid: &str) -> bool {
    kid.strip_prefix(KID_PREFIX).is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 60 && rest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The header's `kid`, read before the signature is checked (to find the secret).
pub fn signing_kid(token: &str) -> Result<String, SessionRefused> {
    // `decode_header` knows only real algorithms: `none` and unknown ones fail there, and
    // are told apart from garbage by reading the header's `alg` ourselves.
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        if names_an_algorithm(token) {
            SessionRefused::Algorithm
        } else {
            SessionRefused::Malformed
        }
    })?;
    if header.alg != Algorithm::HS256 {
        return Err(SessionRefused::Algorithm);
    }
    match header.kid {
        Some(kid) if is_kid(&kid) => Ok(kid),
        Some(_) => Err(SessionRefused::UnknownKid),
        None => Err(SessionRefused::MissingKid),
    }
}

fn names_an_algorithm(token: &str) -> bool {
    use base64::Engine;
    let segment = token.split('.').next().unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .is_some_and(|header| header.get("alg").is_some_and(Value::is_string))
}

/// Checks the signature with `secret`, then the claims, as of `now`.
pub fn verify(token: &str, secret: &[u8], now: DateTime<Utc>) -> Result<Session, SessionRefused> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against `now`, so that one clock decides it.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => SessionRefused::Signature,
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => SessionRefused::Algorithm,
        _ => SessionRefused::Malformed,
    })?;
    let claims = read_claims(&data.claims, now)?;
    let signature = token.rsplit('.').next().unwrap_or_default();
    Ok(Session {
        id: hex::encode(&Sha256::digest(signature.as_bytes())[..16]),
        ..claims
    })
}

/// The claims as the contract names them, with its rules.
fn read_claims(claims: &Map<String, Value>, now: DateTime<Utc>) -> Result<Session, SessionRefused> {
    let instant = |name: &str| -> Result<Option<DateTime<Utc>>, SessionRefused> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .map(Some)
                .ok_or_else(|| {
                    SessionRefused::Claims(format!("{name} must be a time in seconds."))
                }),
        }
    };
    let expires_at =
        instant("exp")?.ok_or_else(|| SessionRefused::Claims("exp is required.".into()))?;
    if expires_at <= now {
        return Err(SessionRefused::Expired);
    }
    let issued_at = instant("iat")?;
    if expires_at - now > MAX_LIFETIME
        || issued_at.is_some_and(|iat| expires_at - iat > MAX_LIFETIME)
    {
        return Err(SessionRefused::TooLong);
    }
    let mut input = Input::new(claims);
    input.require_one_of("user_email", "stripe_customer_id");
    let email = input.email("user_email", false);
    let stripe_customer_id = input.string("stripe_customer_id", false, 255);
    let stripe_subscription_id = input.string("stripe_subscription_id", false, 255);
    let mrr = input.mrr("mrr_value", false);
    if !input.errors.is_empty() {
        return Err(SessionRefused::Claims(input.errors.summary()));
    }
    Ok(Session {
        id: String::new(),
        expires_at,
        email,
        stripe_customer_id,
        stripe_subscription_id,
        mrr,
    })
}

/// Claims for `POST /api/v1/sessions`, checked with the contract's rules (422 when broken).
pub fn claims_from_body(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, ValidationErrors> {
    let mut input = Input::new(body);
    input.require_one_of("user_email", "stripe_customer_id");
    let email = input.email("user_email", false);
    let customer = input.string("stripe_customer_id", false, 255);
    let subscription = input.string("stripe_subscription_id", false, 255);
    let mrr = input.mrr("mrr_value", false);
    let ttl = input
        .integer_between("expires_in", false, 60, MAX_LIFETIME.num_seconds())
        .map_or(3600, i64::from);
    input.finish()?;
    let mut claims = Map::new();
    claims.insert("iat".into(), now.timestamp().into());
    claims.insert("exp".into(), (now.timestamp() + ttl).into());
    if let Some(email) = email {
        claims.insert("user_email".into(), email.as_str().into());
    }
    if let Some(customer) = customer {
        claims.insert("stripe_customer_id".into(), customer.into());
    }
    if let Some(subscription) = subscription {
        claims.insert("stripe_subscription_id".into(), subscription.into());
    }
    if let Some(mrr) = mrr {
        claims.insert("mrr_value".into(), mrr.to_json());
    }
    Ok(claims)
}

/// Signs claims as a company's backend would.
pub fn sign(claims: &Map<String, Value>, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing of a JSON map cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"a-signing-secret-of-enough-length";

    fn token(claims: Value) -> String {
        sign(claims.as_object().unwrap(), "sks_7e57", SECRET)
    }

    #[test]
    fn a_signed_session_names_its_end_user() {
        let now = Utc::now();
        let t =
            token(json!({"exp": now.timestamp() + 600, "user_email": "a@b.co", "mrr_value": 29.9}));
        assert_eq!(signing_kid(&t).unwrap(), "sks_7e57");
        let session = verify(&t, SECRET, now).unwrap();
        assert_eq!(session.email.unwrap().as_str(), "a@b.co");
        assert_eq!(session.mrr, Some(Mrr::parse_decimal("29.9").unwrap()));
        assert_eq!(session.id.len(), 32);
    }

    #[test]
    fn refusals() {
        let now = Utc::now();
        let exp = now.timestamp() + 600;
        let good = token(json!({"exp": exp, "user_email": "a@b.co"}));
        assert_eq!(
            verify(&good, b"another secret", now),
            Err(SessionRefused::Signature)
        );
        let expired = token(json!({"exp": now.timestamp() - 1, "user_email": "a@b.co"}));
        assert_eq!(verify(&expired, SECRET, now), Err(SessionRefused::Expired));
        let long = token(json!({"exp": now.timestamp() + 90_000, "user_email": "a@b.co"}));
        assert_eq!(verify(&long, SECRET, now), Err(SessionRefused::TooLong));
        let nobody = token(json!({"exp": exp}));
        assert!(matches!(
            verify(&nobody, SECRET, now),
            Err(SessionRefused::Claims(_))
        ));
        let no_exp = token(json!({"user_email": "a@b.co"}));
        assert!(matches!(
            verify(&no_exp, SECRET, now),
            Err(SessionRefused::Claims(_))
        ));
        // alg none: header {"alg":"none","kid":"sks_7e57"}, no signature.
        let none = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none","kid":"sks_7e57"}"#),
            base64_url(format!(r#"{{"exp":{exp},"user_email":"a@b.co"}}"#).as_bytes())
        );
        assert_eq!(signing_kid(&none), Err(SessionRefused::Algorithm));
        assert_eq!(signing_kid("not a token"), Err(SessionRefused::Malformed));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}

//! Organization API keys: `slk_<public id>_<secret>`. The public id (the "prefix") finds the
//! row; the secret carries 256 bits of randomness; only SHA-256 of the whole key is stored.
use rand::distributions::Alphanumeric;
use rand::{rngs::OsRng, Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SCHEME: &str = "slk_";
const PUBLIC_ID_LEN: usize = 12;
const SECRET_BYTES: usize = 32;

/// A key as presented by a client or freshly generated. Debug never shows the secret.
#[derive(Clone)]
pub struct ApiKey {
    whole: String,
    prefix_len: usize,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}_****)", self.prefix())
    }
}

impl ApiKey {
    pub fn generate() -> ApiKey {
        let public_id: String = OsRng
            .sample_iter(&Alphanumeric)
            .take(PUBLIC_ID_LEN)
            .map(|c| (c as char).to_ascii_lowercase())
            .collect();
        let mut secret = [0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut secret);
        let whole = format!("{SCHEME}{public_id}_{}", hex::encode(secret));
        ApiKey {
            prefix_len: SCHEME.len() + PUBLIC_ID_LEN,
            whole,
        }
    }

    /// Parses the `X-Knot-Key` header value; None when it is not shaped like one of our keys.
    pub fn parse(raw: &str) -> Option<ApiKey> {
        let rest = raw.trim().strip_prefix(SCHEME)?;
        let (public_id, secret) = rest.split_once('_')?;
        let well_formed = public_id.len() == PUBLIC_ID_LEN
            && public_id.chars().all(|c| c.is_ascii_alphanumeric())
            && secret.len() == SECRET_BYTES * 2
            && secret.chars().all(|c| c.is_ascii_hexdigit());
        well_formed.then(|| ApiKey {
            whole: raw.trim().to_owned(),
            prefix_len: SCHEME.len() + PUBLIC_ID_LEN,
        })
    }

    /// The non-secret part, safe to log and to name the key by (`key revoke PREFIX`).
    pub fn prefix(&self) -> &str {
        &self.whole[..self.prefix_len]
    }

    pub fn expose_secret(&self) -> &str {
        &self.whole
    }

    /// Hex SHA-256 of the whole key, as stored.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.whole.as_bytes()))
    }

    /// Constant-time comparison against a stored hash.
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash().as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::ApiKey;

    #[test]
    fn generated_keys_parse_and_match_their_hash() {
        let key = ApiKey::generate();
        let parsed = ApiKey::parse(key.expose_secret()).expect("parses");
        assert_eq!(parsed.prefix(), key.prefix());
        assert!(parsed.matches(&key.hash()));
        assert!(!ApiKey::generate().matches(&key.hash()));
        assert!(key.prefix().starts_with("slk_"));
        assert!(!format!("{key:?}").contains(&key.expose_secret()[20..]));
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in ["", "slk_", "abc", "slk_short_abcd", &"x".repeat(90)] {
            assert!(ApiKey::parse(bad).is_none(), "{bad}");
        }
    }
}

//! The dashboard's people: an organization's members, their roles, passwords, invitations,
//! sessions and how many wrong passwords are tolerated. No I/O: salts and tokens come from the
//! caller's randomness.
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::Duration;
use sha2::{Digest, Sha256};

/// What a member may do: an owner everything; support staff the tickets and, to read, the
/// analytics overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Support,
}

/// The roles, as stored and as clients write them.
pub const ROLES: [&str; 2] = ["owner", "support"];

impl Role {
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "owner" => Some(Role::Owner),
            "support" => Some(Role::Support),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Support => "support",
        }
    }

    /// Offers, experiments, settings and members are the owner's.
    pub fn is_owner(self) -> bool {
        self == Role::Owner
    }
}

/// Why an organization keeps its last active owner (an owner who has set a password): without
/// one, nobody could manage its members or settings in the dashboard.
pub const LAST_OWNER: &str =
    "This is the organization's last active owner: make another member an owner first.";

/// How long a one-time invitation link works.
pub const INVITE_LIFETIME: Duration = Duration::hours(72);
/// How long a dashboard session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);
/// Failed sign-ins tolerated per account and per address within [`THROTTLE_WINDOW`].
pub const MAX_FAILED_SIGN_INS: u64 = 5;
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);

/// A password's length bounds, in characters.
pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 200;

/// Why a password is refused, in the words a form shows.
pub fn password_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        Some(format!(
            "The password must be at least {MIN_PASSWORD} characters."
        ))
    } else if length > MAX_PASSWORD {
        Some(format!(
            "The password may not be greater than {MAX_PASSWORD} characters."
        ))
    } else {
        None
    }
}

/// The Argon2id hash of a password (PHC string, the crate's default cost: 19 MiB, 2 passes),
/// salted with the caller's 16 random bytes.
pub fn hash_password(password: &str, salt: [u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` is the one `stored` (a PHC string) was made from; a malformed stored
/// hash matches nothing.
pub fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when no account has the address, so that a wrong address costs
/// the same time as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not anybody's password", [7; 16]).unwrap_or_default())
}

/// A fresh random token (invitation, session, pre-session): 32 bytes from the OS, hex.
pub fn fresh_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether a string has the shape of [`fresh_token`]'s tokens (what a path or cookie must be).
pub fn is_token(raw: &str) -> bool {
    raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How a bearer token (invitation, session) is stored: its SHA-256, hex.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of a session: derived from the session's secret token, so it needs no
/// storage and cannot be guessed without the cookie.
pub fn csrf_token(session_token: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"saveloops dashboard csrf\0");
    digest.update(session_token.as_bytes());
    hex::encode(digest.finalize())
}

/// What a failed sign-in counts against: the account (the address as typed, normalized when
/// it is an email) and the client's network address.
pub fn throttle_subjects(email: &str, client_address: &str) -> [String; 2] {
    [
        format!("account:{}", email.trim().to_lowercase()),
        format!("address:{client_address}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_own_hash_only() {
        let hash = hash_password("correct horse battery", [1; 16]).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse battery!", &hash));
        assert!(!password_matches("anything", "not a hash"));
    }

    #[test]
    fn roles_round_trip_and_passwords_have_bounds() {
        for raw in ROLES {
            assert_eq!(Role::parse(raw).unwrap().as_str(), raw);
        }
        assert_eq!(Role::parse("admin"), None);
        assert!(password_problem("short").is_some());
        assert!(password_problem("long enough!").is_none());
    }

    #[test]
    fn the_csrf_token_is_the_sessions_and_no_other() {
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_ne!(csrf_token("a"), token_digest("a"));
    }
}

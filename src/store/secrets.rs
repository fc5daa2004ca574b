//! Secrets at rest: organizations' Stripe keys are sealed with AES-256-GCM under a master
//! key from configuration (`security.master_key`, base64 of 32 bytes) or, when none is set,
//! from a key file the service creates readable only by its owner.
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::config::SecuritySettings;

const NONCE_LEN: usize = 12;

/// Seals and opens secrets. Debug never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(****)")
    }
}

impl SecretBox {
    pub fn from_key_bytes(bytes: &[u8]) -> anyhow::Result<SecretBox> {
        anyhow::ensure!(
            bytes.len() == 32,
            "the master key must be 32 bytes (base64-encoded), not {}",
            bytes.len()
        );
        Ok(SecretBox {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        })
    }

    /// The configured master key, or the key file (created on first use).
    pub fn load(settings: &SecuritySettings) -> anyhow::Result<SecretBox> {
        if let Some(encoded) = settings
            .master_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
        {
            let bytes = BASE64
                .decode(encoded.trim())
                .context("security.master_key is not valid base64")?;
            return Self::from_key_bytes(&bytes);
        }
        let path = Path::new(&settings.master_key_file);
        if path.exists() {
            let encoded = std::fs::read_to_string(path).with_context(|| {
                format!("could not read the master key file {}", path.display())
            })?;
            let bytes = BASE64
                .decode(encoded.trim())
                .with_context(|| format!("the master key file {} is not base64", path.display()))?;
            return Self::from_key_bytes(&bytes);
        }
        let key = Aes256Gcm::generate_key(OsRng);
        write_owner_only(path, BASE64.encode(key).as_bytes())
            .with_context(|| format!("could not create the master key file {}", path.display()))?;
        tracing::warn!(
            file = %path.display(),
            "no security.master_key configured: created a new master key file readable only by its owner; \
             back it up, or Stripe keys stored with it cannot be read"
        );
        Self::from_key_bytes(&key)
    }

    /// nonce ‖ ciphertext, base64.
    pub fn seal(&self, plaintext: &str) -> anyhow::Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| anyhow::anyhow!("could not encrypt the secret"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(BASE64.encode(out))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let bytes = BASE64
            .decode(sealed)
            .context("stored secret is not base64")?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "stored secret is too short");
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                anyhow::anyhow!("stored secret cannot be decrypted with this master key")
            })?;
        String::from_utf8(plain).context("stored secret is not UTF-8")
    }
}

fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_other_keys() {
        let one = SecretBox::from_key_bytes(&[7u8; 32]).unwrap();
        let other = SecretBox::from_key_bytes(&[8u8; 32]).unwrap();
        let sealed = one.seal("sk_test_123").unwrap();
        assert!(!sealed.contains("sk_test"));
        assert_ne!(
            sealed,
            one.seal("sk_test_123").unwrap(),
            "fresh nonce each time"
        );
        assert_eq!(one.open(&sealed).unwrap(), "sk_test_123");
        assert!(other.open(&sealed).is_err());
    }

    #[test]
    fn creates_an_owner_only_key_file_once() {
        let dir = std::env::temp_dir().join(format!("saveloops-key-{}", rand::random::<u64>()));
        let settings = SecuritySettings {
            master_key: None,
            master_key_file: dir.join("master.key").display().to_string(),
        };
        let first = SecretBox::load(&settings).unwrap();
        let sealed = first.seal("sk_live_x").unwrap();
        let again = SecretBox::load(&settings).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "sk_live_x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

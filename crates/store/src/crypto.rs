//! Encryption at rest of the most sensitive free text (registration numbers, and the answers
//! kept for idempotent replays), with ChaCha20-Poly1305 under keys from the configuration.
//!
//! A sealed value reads `enc1:<key id>:<base64 of nonce and ciphertext>`; the key id names the
//! key that sealed it, so values sealed under an older key still open while `rapport
//! rotate-key` re-seals them under the current one. Equality lookups (duplicate detection,
//! search by a whole registration number) use a keyed hash ("blind index") instead of the value.
//!
//! The keys are one per process: they are installed once at start ([`install`]), and every
//! repository seals and opens through them.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::StoreError;

const PREFIX: &str = "enc1:";

/// A 256-bit key and the id that names it in sealed values.
#[derive(Clone)]
struct NamedKey {
    id: String,
    cipher: ChaCha20Poly1305,
    raw: [u8; 32],
}

impl NamedKey {
    fn new(raw: [u8; 32]) -> NamedKey {
        let id = rapport_domain::digest::hex(&Sha256::digest(raw)[..4]);
        NamedKey {
            id,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&raw)),
            raw,
        }
    }
}

/// The current key (seals) and older ones (only open).
#[derive(Clone)]
pub struct FieldCipher {
    current: NamedKey,
    older: Vec<NamedKey>,
}

/// Never prints key material.
impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FieldCipher(current {}, {} older)",
            self.current.id,
            self.older.len()
        )
    }
}

impl FieldCipher {
    /// Seals with `current`; opens what `current` or any of `older` sealed.
    pub fn new(current: [u8; 32], older: &[[u8; 32]]) -> FieldCipher {
        FieldCipher {
            current: NamedKey::new(current),
            older: older.iter().copied().map(NamedKey::new).collect(),
        }
    }

    /// Reads a key written as base64 (32 bytes).
    ///
    /// # Errors
    /// Not base64, or not 32 bytes.
    pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64".to_owned())?;
        bytes
            .try_into()
            .map_err(|_| "must be 32 bytes (44 base64 characters)".to_owned())
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    fn seal(&self, plaintext: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .current
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}:{}", self.current.id, STANDARD.encode(bytes))
    }

    fn open(&self, stored: &str) -> Result<String, StoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            // Written before encryption was turned on: `rotate-key` seals it.
            return Ok(stored.to_owned());
        };
        let corrupt = |why: &str| crate::repos::corrupt("sealed value", why);
        let (id, body) = rest.split_once(':').ok_or_else(|| corrupt("no key id"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == id)
            .ok_or_else(|| corrupt("sealed under a key that is not configured"))?;
        let bytes = STANDARD.decode(body).map_err(|_| corrupt("not base64"))?;
        if bytes.len() < 12 {
            return Err(corrupt("too short"));
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| corrupt("does not open (tampered, or another key)"))?;
        String::from_utf8(plain).map_err(|_| corrupt("not UTF-8"))
    }

    fn blind(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.current.raw)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(b"rapport blind index v1\0");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        // 128 bits, lower-case hex: one search term.
        format!("bx{}", rapport_domain::digest::hex(&digest[..16]))
    }

    /// Was `stored` sealed under the current key?
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }
}

static CIPHER: OnceLock<FieldCipher> = OnceLock::new();

/// Installs the process's keys. Installing the same current key again is a no-op.
///
/// # Errors
/// Another current key was installed before: one process holds one.
pub fn install(cipher: FieldCipher) -> Result<(), StoreError> {
    let installed = CIPHER.get_or_init(|| cipher.clone());
    if installed.current.id == cipher.current.id {
        Ok(())
    } else {
        Err(crate::repos::corrupt(
            "encryption key",
            "a second current key in one process",
        ))
    }
}

fn cipher() -> Result<&'static FieldCipher, StoreError> {
    CIPHER
        .get()
        .ok_or_else(|| crate::repos::corrupt("encryption key", "none installed"))
}

/// Seals `plaintext` under the current key.
///
/// # Errors
/// No key is installed.
pub fn seal(plaintext: &str) -> Result<String, StoreError> {
    Ok(cipher()?.seal(plaintext))
}

/// Opens a sealed value (a value written before encryption comes back as it is).
///
/// # Errors
/// No key is installed, or the value does not open.
pub fn open(stored: &str) -> Result<String, StoreError> {
    cipher()?.open(stored)
}

/// The keyed hash of `value` to find it by equality.
///
/// # Errors
/// No key is installed.
pub fn blind(value: &str) -> Result<String, StoreError> {
    Ok(cipher()?.blind(value))
}

/// Is `stored` already sealed under the current key (nothing for `rotate-key` to do)?
///
/// # Errors
/// No key is installed.
pub fn is_current(stored: &str) -> Result<bool, StoreError> {
    Ok(cipher()?.is_current(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_rotates_and_refuses_tampering() {
        let old = FieldCipher::new([1; 32], &[]);
        let sealed = old.seal("91350100M000100Y43");
        assert!(sealed.starts_with("enc1:") && !sealed.contains("91350100"));
        assert_ne!(
            sealed,
            old.seal("91350100M000100Y43"),
            "a fresh nonce each time"
        );
        assert_eq!(old.open(&sealed).unwrap(), "91350100M000100Y43");
        assert_eq!(old.open("legacy plaintext").unwrap(), "legacy plaintext");

        let rotated = FieldCipher::new([2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed).unwrap(), "91350100M000100Y43");
        assert!(!rotated.is_current(&sealed) && rotated.is_current(&rotated.seal("x")));
        assert!(FieldCipher::new([3; 32], &[]).open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(old.open(&tampered).is_err());

        assert_eq!(old.blind("X1"), old.blind("X1"));
        assert_ne!(old.blind("X1"), rotated.blind("X1"));
        assert_eq!(
            FieldCipher::parse_key("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="),
            Ok([1; 32])
        );
        assert!(FieldCipher::parse_key("c2hvcnQ=").is_err());
    }
}

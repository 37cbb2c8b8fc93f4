//! Random secrets (refresh tokens, client secrets, one-time passwords) and their hashes.
//!
//! These secrets are long and random, so a fast SHA-256 is enough to store them: there is no
//! dictionary to guess from. Passwords, chosen by people, use argon2 instead.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::rngs::OsRng;

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill(buf.as_mut_slice());
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256, for storing and finding random secrets.
pub use rapport_domain::digest::sha256_hex;

/// Compares two secrets' hashes in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A one-time password people can type: 4 groups of 4 characters without look-alikes
/// (`k7Qm-...`), about 95 bits.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = OsRng;
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect();
    groups.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let a = random_token(32);
        assert_ne!(a, random_token(32));
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn hashes_compare() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(same_hash(&sha256_hex("x"), &sha256_hex("x")));
        assert!(!same_hash(&sha256_hex("x"), &sha256_hex("y")));
    }

    #[test]
    fn one_time_passwords_meet_the_policy() {
        let p = one_time_password();
        assert_eq!(p.len(), 19);
        assert!(rapport_domain::password::Password::parse(&p).is_ok());
    }
}

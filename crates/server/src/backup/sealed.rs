//! The encrypted backup format: a header, then the backup in 64 KiB chunks, each sealed with
//! ChaCha20-Poly1305 in the STREAM construction: a chunk's nonce carries its number and
//! whether it is the last, so a chunk moved, dropped, repeated or cut off does not open.
//!
//! ```text
//! header (65 bytes; its first 49 are the associated data of every chunk):
//!   magic "RAPPORT\x1a" (8) · version 1 (1) · key source (1: passphrase, 2: key file)
//!   · Argon2id memory in KiB, passes, lanes (3 × u32 BE; 0 for a key file)
//!   · salt (16) · nonce prefix (7) · key check (16)
//! chunks: 64 KiB of plaintext (the last one 0 to 64 KiB) + a 16-byte tag each
//!   nonce = prefix (7) · chunk number (u32 BE) · 1 for the last chunk, else 0
//! ```
//!
//! The file's key is Argon2id of the passphrase, or the key file's 32 bytes, turned into two
//! keys with HMAC-SHA256 and the random salt: one seals the chunks, the other makes the key
//! check, so that a wrong passphrase is told apart from a damaged file.

use std::io::{BufRead, BufReader, Read, Write};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox, SecretString};
use sha2::Sha256;

/// The first bytes of an encrypted backup (an SQLite file starts with "SQLite format 3").
pub const MAGIC: &[u8; 8] = b"RAPPORT\x1a";
const VERSION: u8 = 1;
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// What the chunks authenticate: everything but the key check.
const BOUND: usize = 49;
const HEADER: usize = BOUND + 16;

/// Argon2id's cost for a passphrase: RFC 9106's second recommended setting with one lane,
/// a fraction of a second. Stored in the header, so that it can grow without breaking old files.
const COST: Cost = Cost {
    memory_kib: 64 * 1024,
    passes: 3,
    lanes: 1,
};
/// The most a header may ask for: a forged header must not make a restore take the machine.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_PASSES: u32 = 64;
const MAX_LANES: u32 = 64;

/// What encrypts a backup.
pub enum Secret {
    Passphrase(SecretString),
    Key(SecretBox<[u8; 32]>),
}

impl Secret {
    fn source(&self) -> u8 {
        match self {
            Secret::Passphrase(_) => 1,
            Secret::Key(_) => 2,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Secret::Passphrase(_) => "a passphrase",
            Secret::Key(_) => "a key file",
        }
    }
}

/// Why a file did not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not an encrypted Rapport backup")]
    NotSealed,
    #[error("an encrypted backup of format version {0}, which this version does not read")]
    UnknownVersion(u8),
    #[error("the backup names a key source ({0}) that this version does not know")]
    UnknownSource(u8),
    #[error("the backup was encrypted with {0}, not with {1}")]
    OtherSource(&'static str, &'static str),
    #[error("the backup's header asks for an unreasonable key derivation cost")]
    Cost,
    #[error("key derivation: {0}")]
    Kdf(String),
    #[error("wrong passphrase or key")]
    WrongKey,
    #[error("the backup is damaged, changed or cut short: chunk {0} does not open")]
    Damaged(u32),
    #[error("the backup is cut short")]
    Truncated,
    #[error("too large for one backup file")]
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

/// The parsed header.
struct Header {
    bytes: [u8; HEADER],
    source: u8,
    cost: Cost,
    salt: [u8; 16],
    prefix: [u8; 7],
}

impl Header {
    fn new(source: u8, cost: Cost) -> Header {
        let mut rng = rand::rngs::OsRng;
        let mut salt = [0; 16];
        let mut prefix = [0; 7];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut prefix);
        let mut bytes = [0; HEADER];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8] = VERSION;
        bytes[9] = source;
        bytes[10..14].copy_from_slice(&cost.memory_kib.to_be_bytes());
        bytes[14..18].copy_from_slice(&cost.passes.to_be_bytes());
        bytes[18..22].copy_from_slice(&cost.lanes.to_be_bytes());
        bytes[22..38].copy_from_slice(&salt);
        bytes[38..45].copy_from_slice(&prefix);
        Header {
            bytes,
            source,
            cost,
            salt,
            prefix,
        }
    }

    fn parse(bytes: [u8; HEADER]) -> Result<Header, SealError> {
        if &bytes[..8] != MAGIC {
            return Err(SealError::NotSealed);
        }
        if bytes[8] != VERSION {
            return Err(SealError::UnknownVersion(bytes[8]));
        }
        if !matches!(bytes[9], 1 | 2) {
            return Err(SealError::UnknownSource(bytes[9]));
        }
        let u32_at = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut salt = [0; 16];
        salt.copy_from_slice(&bytes[22..38]);
        let mut prefix = [0; 7];
        prefix.copy_from_slice(&bytes[38..45]);
        Ok(Header {
            source: bytes[9],
            cost: Cost {
                memory_kib: u32_at(10),
                passes: u32_at(14),
                lanes: u32_at(18),
            },
            salt,
            prefix,
            bytes,
        })
    }

    fn bound(&self) -> &[u8] {
        &self.bytes[..BOUND]
    }
}

/// The chunk cipher and the key check of one file.
struct FileKeys {
    cipher: ChaCha20Poly1305,
    check: [u8; 16],
}

impl FileKeys {
    fn derive(secret: &Secret, header: &Header) -> Result<FileKeys, SealError> {
        let mut master = SecretBox::new(Box::new([0u8; 32]));
        match secret {
            Secret::Passphrase(passphrase) => {
                let cost = header.cost;
                if cost.memory_kib > MAX_MEMORY_KIB
                    || cost.passes > MAX_PASSES
                    || cost.lanes > MAX_LANES
                {
                    return Err(SealError::Cost);
                }
                let params =
                    argon2::Params::new(cost.memory_kib, cost.passes, cost.lanes, Some(32))
                        .map_err(|e| SealError::Kdf(e.to_string()))?;
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                    .hash_password_into(
                        passphrase.expose_secret().as_bytes(),
                        &header.salt,
                        master.expose_secret_mut(),
                    )
                    .map_err(|e| SealError::Kdf(e.to_string()))?;
            }
            Secret::Key(key) => master
                .expose_secret_mut()
                .copy_from_slice(key.expose_secret()),
        }
        let mac = |label: &[u8], data: &[u8]| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master.expose_secret())
                .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
            mac.update(label);
            mac.update(data);
            mac.finalize().into_bytes()
        };
        let cipher_key = mac(b"rapport backup v1 chunks\0", &header.salt);
        let check = mac(b"rapport backup v1 check\0", header.bound());
        let mut short = [0; 16];
        short.copy_from_slice(&check[..16]);
        Ok(FileKeys {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&cipher_key)),
            check: short,
        })
    }
}

fn nonce(prefix: &[u8; 7], counter: u32, last: bool) -> Nonce {
    let mut nonce = [0; 12];
    nonce[..7].copy_from_slice(prefix);
    nonce[7..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    *Nonce::from_slice(&nonce)
}

/// Reads until `buf` is full or the input ends; how much it read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Does a file starting with `start` hold an encrypted backup?
pub fn is_sealed(start: &[u8]) -> bool {
    start.starts_with(MAGIC)
}

/// Encrypts `input` into `output`; `progress` hears the bytes read so far after each chunk.
///
/// # Errors
/// Reading, writing, or deriving the key failed.
pub fn seal(
    input: impl Read,
    output: impl Write,
    secret: &Secret,
    progress: impl FnMut(u64),
) -> Result<(), SealError> {
    seal_with(input, output, secret, COST, progress)
}

fn seal_with(
    input: impl Read,
    mut output: impl Write,
    secret: &Secret,
    cost: Cost,
    mut progress: impl FnMut(u64),
) -> Result<(), SealError> {
    let cost = match secret {
        Secret::Passphrase(_) => cost,
        Secret::Key(_) => Cost {
            memory_kib: 0,
            passes: 0,
            lanes: 0,
        },
    };
    let mut header = Header::new(secret.source(), cost);
    let keys = FileKeys::derive(secret, &header)?;
    header.bytes[BOUND..].copy_from_slice(&keys.check);
    output.write_all(&header.bytes)?;
    let mut input = BufReader::with_capacity(CHUNK, input);
    let mut buf = vec![0; CHUNK];
    let mut done = 0u64;
    for counter in 0..=u32::MAX {
        let n = read_full(&mut input, &mut buf)?;
        // A full chunk is the last when nothing follows it: the input's length need not be
        // known in advance.
        let last = n < CHUNK || input.fill_buf()?.is_empty();
        let sealed = keys
            .cipher
            .encrypt(
                &nonce(&header.prefix, counter, last),
                Payload {
                    msg: &buf[..n],
                    aad: header.bound(),
                },
            )
            .map_err(|_| SealError::TooLarge)?;
        output.write_all(&sealed)?;
        done += n as u64;
        progress(done);
        if last {
            output.flush()?;
            return Ok(());
        }
    }
    Err(SealError::TooLarge)
}

/// Decrypts `input` into `output`, writing only chunks that opened; `progress` hears the bytes
/// read so far. On an error, what was written is not the whole backup: throw it away.
///
/// # Errors
/// Not an encrypted backup, the wrong secret, a damaged or cut file, or reading or writing.
pub fn open(
    input: impl Read,
    mut output: impl Write,
    secret: &Secret,
    mut progress: impl FnMut(u64),
) -> Result<(), SealError> {
    let mut input = BufReader::with_capacity(CHUNK + TAG, input);
    let mut bytes = [0; HEADER];
    let n = read_full(&mut input, &mut bytes)?;
    if n < MAGIC.len() || !is_sealed(&bytes) {
        return Err(SealError::NotSealed);
    }
    if n < HEADER {
        return Err(SealError::Truncated);
    }
    let header = Header::parse(bytes)?;
    if header.source != secret.source() {
        let source = if header.source == 1 {
            "a passphrase"
        } else {
            "a key file"
        };
        return Err(SealError::OtherSource(source, secret.describe()));
    }
    let keys = FileKeys::derive(secret, &header)?;
    if !constant_time_eq(&keys.check, &header.bytes[BOUND..]) {
        return Err(SealError::WrongKey);
    }
    let mut buf = vec![0; CHUNK + TAG];
    let mut done = HEADER as u64;
    for counter in 0..=u32::MAX {
        let n = read_full(&mut input, &mut buf)?;
        if n < TAG {
            return Err(SealError::Truncated);
        }
        let last = n < CHUNK + TAG || input.fill_buf()?.is_empty();
        let plain = keys
            .cipher
            .decrypt(
                &nonce(&header.prefix, counter, last),
                Payload {
                    msg: &buf[..n],
                    aad: header.bound(),
                },
            )
            // A file cut at a chunk's end ends on a chunk sealed as not the last.
            .map_err(|_| SealError::Damaged(counter))?;
        output.write_all(&plain)?;
        done += n as u64;
        progress(done);
        if last {
            output.flush()?;
            return Ok(());
        }
    }
    Err(SealError::TooLarge)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap enough for tests; the format is the same.
    const TEST_COST: Cost = Cost {
        memory_kib: 64,
        passes: 1,
        lanes: 1,
    };

    fn key(byte: u8) -> Secret {
        Secret::Key(SecretBox::new(Box::new([byte; 32])))
    }

    fn passphrase(text: &str) -> Secret {
        Secret::Passphrase(text.into())
    }

    fn sealed(plain: &[u8], secret: &Secret) -> Vec<u8> {
        let mut out = Vec::new();
        seal_with(plain, &mut out, secret, TEST_COST, |_| {}).unwrap();
        out
    }

    fn opened(file: &[u8], secret: &Secret) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::new();
        open(file, &mut out, secret, |_| {})?;
        Ok(out)
    }

    /// Not a multiple of the chunk, so the last chunk is short.
    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn round_trips_every_size_around_the_chunk() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let plain = data(len);
            for secret in [key(1), passphrase("correct horse battery")] {
                let file = sealed(&plain, &secret);
                assert!(is_sealed(&file));
                // A full last chunk is the last: no empty one follows it.
                let chunks = len.div_ceil(CHUNK).max(1);
                assert_eq!(file.len(), HEADER + len + chunks * TAG, "{len}");
                assert_eq!(opened(&file, &secret).unwrap(), plain, "{len}");
            }
        }
    }

    #[test]
    fn the_same_input_seals_differently_each_time() {
        let plain = data(100);
        assert_ne!(sealed(&plain, &key(1)), sealed(&plain, &key(1)));
    }

    #[test]
    fn the_wrong_key_or_passphrase_is_named() {
        let file = sealed(&data(10), &key(1));
        assert!(matches!(opened(&file, &key(2)), Err(SealError::WrongKey)));
        let file = sealed(&data(10), &passphrase("correct horse battery"));
        assert!(matches!(
            opened(&file, &passphrase("correct horse staple")),
            Err(SealError::WrongKey)
        ));
        assert!(matches!(
            opened(&file, &key(1)),
            Err(SealError::OtherSource("a passphrase", "a key file"))
        ));
    }

    #[test]
    fn a_truncated_file_does_not_open() {
        let plain = data(2 * CHUNK + 100);
        let file = sealed(&plain, &key(1));
        // Cut at a chunk boundary (the last chunk dropped), inside a chunk, in the header.
        for len in [
            HEADER + CHUNK + TAG,
            HEADER + 2 * (CHUNK + TAG),
            file.len() - 1,
            HEADER + 5,
            20,
        ] {
            let result = opened(&file[..len], &key(1));
            assert!(
                matches!(result, Err(SealError::Damaged(_) | SealError::Truncated)),
                "{len}: {result:?}"
            );
        }
        assert!(matches!(
            opened(&file[..HEADER], &key(1)),
            Err(SealError::Truncated)
        ));
    }

    #[test]
    fn a_flipped_byte_anywhere_does_not_open() {
        let file = sealed(&data(CHUNK + 100), &key(1));
        for at in [
            9,
            12,
            25,
            40,
            50,
            HEADER,
            HEADER + 1000,
            HEADER + CHUNK + TAG + 3,
            file.len() - 1,
        ] {
            let mut changed = file.clone();
            changed[at] ^= 0x40;
            assert!(opened(&changed, &key(1)).is_err(), "byte {at}");
        }
    }

    #[test]
    fn reordered_or_repeated_chunks_do_not_open() {
        // Three full chunks, then a short last one.
        let file = sealed(&data(3 * CHUNK + 10), &key(1));
        let chunk = |i: usize| &file[HEADER + i * (CHUNK + TAG)..HEADER + (i + 1) * (CHUNK + TAG)];
        let last = &file[HEADER + 3 * (CHUNK + TAG)..];
        assert_eq!(last.len(), 10 + TAG);
        let mut swapped = file[..HEADER].to_vec();
        for i in [1, 0, 2] {
            swapped.extend_from_slice(chunk(i));
        }
        swapped.extend_from_slice(last);
        assert!(matches!(
            opened(&swapped, &key(1)),
            Err(SealError::Damaged(0))
        ));
        let mut repeated = file[..HEADER].to_vec();
        for i in [0, 1, 1, 2] {
            repeated.extend_from_slice(chunk(i));
        }
        repeated.extend_from_slice(last);
        assert!(matches!(
            opened(&repeated, &key(1)),
            Err(SealError::Damaged(2))
        ));
    }

    #[test]
    fn an_empty_input_still_seals_a_last_chunk() {
        let file = sealed(b"", &key(1));
        assert_eq!(file.len(), HEADER + TAG);
        assert_eq!(opened(&file, &key(1)).unwrap(), b"");
        assert!(matches!(
            opened(&file[..HEADER], &key(1)),
            Err(SealError::Truncated)
        ));
    }

    #[test]
    fn other_files_are_not_taken_for_backups() {
        assert!(matches!(
            opened(b"SQLite format 3\0", &key(1)),
            Err(SealError::NotSealed)
        ));
        assert!(matches!(opened(b"", &key(1)), Err(SealError::NotSealed)));
        let mut file = sealed(b"x", &key(1));
        file[8] = 9;
        assert!(matches!(
            opened(&file, &key(1)),
            Err(SealError::UnknownVersion(9))
        ));
        file[8] = VERSION;
        file[9] = 3;
        assert!(matches!(
            opened(&file, &key(1)),
            Err(SealError::UnknownSource(3))
        ));
    }

    #[test]
    fn a_forged_cost_is_refused_before_deriving() {
        let mut file = sealed(b"x", &passphrase("correct horse battery"));
        file[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            opened(&file, &passphrase("correct horse battery")),
            Err(SealError::Cost)
        ));
    }

    #[test]
    fn progress_counts_the_bytes_read() {
        let plain = data(2 * CHUNK + 5);
        let mut seen = Vec::new();
        let mut file = Vec::new();
        seal_with(&plain[..], &mut file, &key(1), TEST_COST, |n| seen.push(n)).unwrap();
        assert_eq!(seen, [CHUNK as u64, 2 * CHUNK as u64, plain.len() as u64]);
        let mut last = 0;
        open(&file[..], std::io::sink(), &key(1), |n| last = n).unwrap();
        assert_eq!(last, file.len() as u64);
    }
}

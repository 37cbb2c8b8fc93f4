//! `rapport backup` and `rapport restore`: a consistent copy of the SQLite database taken while
//! servers write to it (`VACUUM INTO`), optionally encrypted ([`sealed`]), and put back into an
//! empty data folder. PostgreSQL has tools of its own for this (`docs/operations.md`).

mod files;
mod restore;
pub mod sealed;
mod take;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::{ExposeSecret, SecretBox, SecretString};

pub use self::restore::{Restored, restore};
use self::sealed::Secret;
pub use self::take::{BackedUp, backup};
use crate::config::Settings;
use crate::{database, private_files};

/// How a backup is encrypted: never with a secret on the command line, where `ps` and the
/// shell's history would show it.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(multiple = false)]
pub struct KeyArgs {
    /// Encrypt (or decrypt) with the passphrase held in this environment variable, e.g.
    /// `--passphrase-env RAPPORT_BACKUP_PASSPHRASE` (at least 12 characters).
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Encrypt (or decrypt) with the 32-byte key in this file: raw, 64 hex digits or base64
    /// (`openssl rand -hex 32 > backup.key`).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The secret the flags name; none without either.
    ///
    /// # Errors
    /// The variable is unset or empty, or the key file cannot be read or holds no key.
    pub fn secret(&self) -> anyhow::Result<Option<Secret>> {
        if let Some(var) = &self.passphrase_env {
            let passphrase = std::env::var(var)
                .ok()
                .filter(|p| !p.is_empty())
                .with_context(|| {
                    format!("--passphrase-env: the variable {var} holds no passphrase")
                })?;
            return Ok(Some(Secret::Passphrase(SecretString::from(passphrase))));
        }
        if let Some(path) = &self.key_file {
            private_files::warn_if_open(path);
            let bytes = std::fs::read(path)
                .with_context(|| format!("--key-file: reading {}", path.display()))?;
            let key = parse_key(&bytes).with_context(|| {
                format!(
                    "--key-file: {} must hold 32 bytes: raw, as 64 hex digits or in base64",
                    path.display()
                )
            })?;
            return Ok(Some(Secret::Key(SecretBox::new(Box::new(key)))));
        }
        Ok(None)
    }
}

/// A key file's 32 bytes: raw, or as hex or base64 text.
fn parse_key(bytes: &[u8]) -> Option<[u8; 32]> {
    use base64::Engine;
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let decoded = if text.len() == 64 {
        (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    decoded.try_into().ok()
}

/// The SQLite file of this configuration; an error naming `what` on PostgreSQL.
fn sqlite_file(settings: &Settings, what: &str) -> anyhow::Result<PathBuf> {
    if !settings.uses_sqlite() {
        anyhow::bail!(
            "`rapport {what}` is for SQLite; on PostgreSQL use pg_dump and pg_restore, or a base \
             backup with WAL archiving (docs/operations.md, \"PostgreSQL\")"
        );
    }
    database::sqlite_path(settings.database_url.expose_secret())
        .context("the database is in memory: there is no file to back up or restore")
}

/// Runs `work` until it ends, or until SIGINT or SIGTERM: then `work` is dropped, and with it
/// the temporary files it made (a clear copy of the database among them), and this fails.
async fn until_stopped<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        done = work => done,
        _ = interrupt.recv() => Err(anyhow::anyhow!("stopped by SIGINT; nothing was written")),
        _ = terminate.recv() => Err(anyhow::anyhow!("stopped by SIGTERM; nothing was written")),
    }
}

/// Runs `work` (reading and writing files) on a thread of its own, so that a signal is heard
/// meanwhile. When the caller is dropped, the writer `work` is given fails at its next write,
/// so that the thread ends soon.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce(&Stop) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let stop = Stop(Arc::new(AtomicBool::new(false)));
    let _on_drop = StopOnDrop(stop.clone());
    tokio::task::spawn_blocking(move || work(&stop))
        .await
        .context("the copying thread failed")?
}

/// Set when the command is stopped.
#[derive(Clone)]
struct Stop(Arc<AtomicBool>);

impl Stop {
    /// `inner`, failing once stopped.
    fn writer<W: Write>(&self, inner: W) -> Stoppable<W> {
        Stoppable {
            inner,
            stop: self.clone(),
        }
    }
}

struct StopOnDrop(Stop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::SeqCst);
    }
}

struct Stoppable<W> {
    inner: W,
    stop: Stop,
}

impl<W: Write> Write for Stoppable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.0.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("stopped"));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A bar of bytes on stderr; indicatif draws nothing when stderr is not a terminal.
fn bytes_bar(total: u64, what: &'static str) -> anyhow::Result<ProgressBar> {
    let bar = ProgressBar::new(total);
    bar.set_style(
        // `wide_bar` takes what the terminal's width leaves, so that the line never wraps.
        ProgressStyle::with_template(
            "{msg:10} {wide_bar} {bytes}/{total_bytes}, {bytes_per_sec}, {eta} left",
        )
        .context("the progress bar's template")?,
    );
    bar.set_message(what);
    Ok(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_holds_32_bytes_raw_hex_or_base64() {
        use base64::Engine;
        let raw: Vec<u8> = (0..32).collect();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        for file in [
            raw.clone(),
            format!("{hex}\n").into_bytes(),
            format!("{b64}\n").into_bytes(),
        ] {
            assert_eq!(parse_key(&file).map(Vec::from), Some(raw.clone()));
        }
        for bad in [
            &b"short"[..],
            &[0; 31],
            &[0; 33],
            "é".repeat(32).as_bytes(),
            &[b'g'; 64],
        ] {
            assert_eq!(parse_key(bad), None);
        }
    }

    #[test]
    fn a_stopped_writer_fails() {
        let stop = Stop(Arc::new(AtomicBool::new(false)));
        let mut out = stop.writer(Vec::new());
        out.write_all(b"before").unwrap();
        drop(StopOnDrop(stop.clone()));
        assert!(out.write_all(b"after").is_err());
        assert_eq!(out.inner, b"before");
    }
}

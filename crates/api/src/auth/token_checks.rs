//! What the token check read from the database, kept in memory so that an authenticated
//! request costs no database read.
//!
//! A cached answer is dropped:
//! - on this instance, at once: every change that can end a token's validity calls
//!   [`TokenChecks::forget_all`] after its commit;
//! - on every other instance (or after a command-line change), within a second: triggers raise
//!   the `auth_epoch` counter in the same transaction as the change, and [`watch`] reads it
//!   every [`POLL`]; when it moved, it forgets everything.
//!
//! A check that read the database before a forget and finishes after it is not cached (the
//! generation moved), so a revocation cannot be overwritten by an answer read before it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rapport_store::Store;
use rapport_store::repos::auth_epoch;
use rapport_store::repos::users::AuthState;
use uuid::Uuid;

/// How often [`watch`] reads the epoch: well within the contract's one second.
pub const POLL: Duration = Duration::from_millis(250);
/// Past this many principals and sessions, the cache starts over rather than grow.
const CAPACITY: usize = 100_000;

/// A user or client, and the sign-in its token belongs to.
pub type Key = (Uuid, Option<Uuid>);

#[derive(Debug, Default)]
pub struct TokenChecks {
    generation: AtomicU64,
    entries: Mutex<HashMap<Key, AuthState>>,
}

impl TokenChecks {
    /// The generation to hand back to [`TokenChecks::remember`] after reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &Key) -> Option<AuthState> {
        self.lock().get(key).copied()
    }

    /// Caches what was read, unless something was forgotten since `generation`.
    pub fn remember(&self, key: Key, state: AuthState, generation: u64) {
        let mut entries = self.lock();
        // Under the lock: `forget_all` moves the generation under it too.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, state);
    }

    /// Forgets every cached check.
    pub fn forget_all(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, AuthState>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads the `auth_epoch` counter every [`POLL`] and forgets every cached check when it moved,
/// or when it cannot be read (then nothing cached can be trusted). Runs until dropped.
pub async fn watch(store: Store, checks: std::sync::Arc<TokenChecks>) {
    let mut last = None;
    let mut interval = tokio::time::interval(POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match auth_epoch::current(store.conn()).await {
            Ok(epoch) if last == Some(epoch) => {}
            Ok(epoch) => {
                if last.is_some() {
                    checks.forget_all();
                }
                last = Some(epoch);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading auth_epoch failed; token checks read the database");
                checks.forget_all();
                last = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: i32) -> AuthState {
        AuthState {
            disabled: false,
            token_version: version,
            session_revoked: false,
        }
    }

    #[test]
    fn remembers_what_was_read() {
        let checks = TokenChecks::default();
        let key = (Uuid::now_v7(), None);
        checks.remember(key, state(1), checks.generation());
        assert_eq!(checks.get(&key), Some(state(1)));
    }

    #[test]
    fn forgetting_drops_everything() {
        let checks = TokenChecks::default();
        let key = (Uuid::now_v7(), Some(Uuid::now_v7()));
        checks.remember(key, state(1), checks.generation());
        checks.forget_all();
        assert_eq!(checks.get(&key), None);
    }

    #[test]
    fn a_read_from_before_a_forget_is_not_kept() {
        let checks = TokenChecks::default();
        let key = (Uuid::now_v7(), None);
        let before = checks.generation();
        checks.forget_all();
        checks.remember(key, state(1), before);
        assert_eq!(checks.get(&key), None);
    }

    #[test]
    fn stays_bounded() {
        let checks = TokenChecks::default();
        for _ in 0..CAPACITY + 10 {
            checks.remember((Uuid::now_v7(), None), state(1), checks.generation());
        }
        assert!(checks.lock().len() <= CAPACITY);
    }
}

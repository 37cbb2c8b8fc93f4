//! Token buckets by key, in this process, in a map of bounded size: what the sign-in limits
//! ([`crate::auth::rate_limit`]) and the request limits ([`crate::middleware::rate_limit`])
//! count with. Full buckets are forgotten first, then the least recently used, so distinct
//! keys (usernames, addresses) cannot grow memory without bound. With several instances each
//! counts on its own.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A token bucket's shape: `burst` tries, refilled one every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub every: Duration,
}

impl Rate {
    /// `n` a minute, all of them at once if need be.
    pub fn per_minute(n: u32) -> Rate {
        let n = n.max(1);
        Rate {
            burst: n,
            every: Duration::from_secs(60) / n,
        }
    }
}

/// A bucket's level at a time.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    pub tokens: f64,
    at: Instant,
    rate: Rate,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(rate.burst),
            at: now,
            rate,
        }
    }

    /// The bucket refilled up to `now`.
    fn at(self, now: Instant) -> Bucket {
        let refill =
            now.saturating_duration_since(self.at).as_secs_f64() / self.rate.every.as_secs_f64();
        Bucket {
            tokens: (self.tokens + refill).min(f64::from(self.rate.burst)),
            at: now,
            rate: self.rate,
        }
    }

    fn is_full(self) -> bool {
        self.tokens >= f64::from(self.rate.burst)
    }

    /// How long until it holds one try.
    pub fn wait(self) -> Duration {
        self.rate.every.mul_f64((1.0 - self.tokens).max(0.0))
    }

    /// How long until it is full again.
    pub fn refilled_in(self) -> Duration {
        self.rate
            .every
            .mul_f64((f64::from(self.rate.burst) - self.tokens).max(0.0))
    }

    /// Whole tries left.
    pub fn remaining(self) -> u32 {
        // At most `burst`, a u32.
        self.tokens.max(0.0).floor() as u32
    }
}

/// Buckets by key; each call names the rate of each key it uses.
#[derive(Debug)]
pub struct Buckets<K> {
    capacity: usize,
    map: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    /// Remembers at most `capacity` buckets.
    pub fn new(capacity: usize) -> Buckets<K> {
        Buckets {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one try from the bucket of each key, or none when one of them is empty: then
    /// `Err` with the longest wait until each holds a try. `Ok` answers each bucket after.
    ///
    /// # Errors
    /// A bucket is empty.
    pub fn take(&self, keys: &[(K, Rate)], now: Instant) -> Result<Vec<Bucket>, Vec<Bucket>> {
        let mut map = self.lock();
        let mut current: Vec<Bucket> = keys
            .iter()
            .map(|(key, rate)| {
                map.get(key).map_or_else(
                    || Bucket::full(*rate, now),
                    |b| Bucket { rate: *rate, ..*b }.at(now),
                )
            })
            .collect();
        if current.iter().any(|b| b.tokens < 1.0) {
            return Err(current);
        }
        for ((key, _), bucket) in keys.iter().zip(current.iter_mut()) {
            bucket.tokens -= 1.0;
            if !map.contains_key(key) && map.len() >= self.capacity {
                self.make_room(&mut map, now);
            }
            map.insert(key.clone(), *bucket);
        }
        Ok(current)
    }

    /// Gives one try back to the bucket of each key.
    pub fn give_back(&self, keys: &[(K, Rate)]) {
        let mut map = self.lock();
        for (key, rate) in keys {
            if let Some(bucket) = map.get_mut(key) {
                bucket.tokens = (bucket.tokens + 1.0).min(f64::from(rate.burst));
            }
        }
    }

    /// How many buckets are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the buckets that refilled (they equal a new one); if that is not enough, the
    /// least recently used tenth.
    fn make_room(&self, map: &mut HashMap<K, Bucket>, now: Instant) {
        map.retain(|_, bucket| !bucket.at(now).is_full());
        if map.len() < self.capacity {
            return;
        }
        let mut by_age: Vec<(Instant, K)> =
            map.iter().map(|(key, b)| (b.at, key.clone())).collect();
        let cut = (by_age.len() / 10).max(1);
        by_age.select_nth_unstable_by_key(cut - 1, |(at, _)| *at);
        for (_, key) in &by_age[..cut] {
            map.remove(key);
        }
    }

    /// A poisoned lock only means a panic elsewhere; the counts are still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<K, Bucket>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

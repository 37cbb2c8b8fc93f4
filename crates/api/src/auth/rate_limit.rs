//! Rate limiting of sign-in attempts: per account and client address, per account, per address.
//!
//! An attempt takes one try from each of its buckets *before* the password is checked, so a
//! burst of parallel guesses is cut at the quota instead of all being verified first; a
//! successful attempt gives its tries back, so scripts that sign in often are never slowed.
//! The strict bucket is per (account, address): someone failing from one address cannot lock
//! the account's owner out from another. A softer per-account bucket catches guessing spread
//! over many addresses, and a per-address bucket catches one address trying many accounts.
//!
//! The buckets live in this process (with several instances each enforces the quota on its
//! own) in a map of bounded size ([`Buckets`]).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::buckets::Buckets;
use crate::error::ApiError;

pub use crate::buckets::Rate;

/// The quotas of sign-in attempts.
#[derive(Debug, Clone, Copy)]
pub struct LoginQuota {
    /// One account from one address.
    pub account_ip: Rate,
    /// One account from anywhere: softer, so that it is hard to lock an account out.
    pub account: Rate,
    /// One address, whatever the account.
    pub ip: Rate,
    /// How many buckets are remembered at most.
    pub capacity: usize,
}

impl Default for LoginQuota {
    fn default() -> Self {
        LoginQuota {
            account_ip: Rate {
                burst: 5,
                every: Duration::from_secs(60),
            },
            account: Rate {
                burst: 50,
                every: Duration::from_secs(20),
            },
            ip: Rate {
                burst: 20,
                every: Duration::from_secs(10),
            },
            capacity: 10_000,
        }
    }
}

impl LoginQuota {
    /// The quota of the public endpoints, per client address only ([`LoginLimiter::take_ip`]):
    /// 30 requests at once, one more each second.
    pub fn public() -> LoginQuota {
        LoginQuota {
            ip: Rate {
                burst: 30,
                every: Duration::from_secs(1),
            },
            ..LoginQuota::default()
        }
    }
}

/// What a bucket counts: the account is already normalized (a lower-cased email, `client:<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    AccountIp(String, IpAddr),
    Account(String),
    Ip(IpAddr),
}

/// Counts sign-in attempts and refuses those over a quota.
#[derive(Debug)]
pub struct LoginLimiter {
    quota: LoginQuota,
    buckets: Buckets<Key>,
}

/// An attempt that took its tries. Dropped, it counts as a failure; [`Attempt::give_back`]
/// returns the tries.
#[must_use = "an attempt that is dropped counts as a failure"]
#[derive(Debug)]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: Vec<Key>,
}

impl Attempt<'_> {
    /// The attempt does not count: the credentials were right, or were never checked.
    pub fn give_back(self) {
        let keys = self.limiter.with_rates(self.keys);
        self.limiter.buckets.give_back(&keys);
    }
}

impl LoginLimiter {
    pub fn new(quota: LoginQuota) -> LoginLimiter {
        LoginLimiter {
            quota,
            buckets: Buckets::new(quota.capacity),
        }
    }

    /// Takes one try for `account` from `ip`, or refuses.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until every bucket of the attempt holds a try again.
    pub fn begin(&self, account: &str, ip: Option<IpAddr>) -> Result<Attempt<'_>, ApiError> {
        self.begin_at(account, ip, Instant::now())
    }

    /// How many buckets are remembered.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn begin_at(
        &self,
        account: &str,
        ip: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, ApiError> {
        let mut keys = vec![Key::Account(account.to_owned())];
        if let Some(ip) = ip {
            keys.push(Key::AccountIp(account.to_owned(), ip));
            keys.push(Key::Ip(ip));
        }
        self.take(keys, now)
    }

    /// Takes one try from the bucket of `ip` alone: the per-address limit of public endpoints.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the address holds a try again.
    pub fn take_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.take(vec![Key::Ip(ip)], Instant::now()).map(drop)
    }

    /// Takes one try from each bucket of `keys`, or none when one of them is empty.
    fn take(&self, keys: Vec<Key>, now: Instant) -> Result<Attempt<'_>, ApiError> {
        match self.buckets.take(&self.with_rates(keys.clone()), now) {
            Ok(_) => Ok(Attempt {
                limiter: self,
                keys,
            }),
            Err(buckets) => {
                let wait = buckets
                    .iter()
                    .filter(|b| b.tokens < 1.0)
                    .map(|b| b.wait())
                    .max()
                    .unwrap_or_default();
                Err(ApiError::RateLimited {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                })
            }
        }
    }

    fn with_rates(&self, keys: Vec<Key>) -> Vec<(Key, Rate)> {
        keys.into_iter()
            .map(|key| {
                let rate = match key {
                    Key::AccountIp(..) => self.quota.account_ip,
                    Key::Account(_) => self.quota.account,
                    Key::Ip(_) => self.quota.ip,
                };
                (key, rate)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn rate(burst: u32, secs: u64) -> Rate {
        Rate {
            burst,
            every: Duration::from_secs(secs),
        }
    }

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginQuota {
            account_ip: rate(3, 60),
            account: rate(6, 60),
            ip: rate(5, 60),
            capacity: 100,
        })
    }

    fn fail(l: &LoginLimiter, account: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        l.begin_at(account, Some(ip), now).map(drop)
    }

    #[test]
    fn blocks_an_account_from_one_address_but_not_from_another() {
        let (l, now) = (limiter(), Instant::now());
        for _ in 0..3 {
            fail(&l, "a@x.cn", A, now).unwrap();
        }
        match fail(&l, "a@x.cn", A, now) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 60),
            other => panic!("{other:?}"),
        }
        l.begin_at("a@x.cn", Some(B), now).unwrap().give_back();
        fail(&l, "b@x.cn", A, now).unwrap();
    }

    #[test]
    fn a_refused_attempt_takes_nothing() {
        let (l, now) = (limiter(), Instant::now());
        for _ in 0..3 {
            fail(&l, "a@x.cn", A, now).unwrap();
        }
        for _ in 0..10 {
            assert!(fail(&l, "a@x.cn", A, now).is_err());
        }
        // The address spent 3 of its 5 tries: two more accounts may still be tried from it.
        fail(&l, "b@x.cn", A, now).unwrap();
        fail(&l, "c@x.cn", A, now).unwrap();
        assert!(fail(&l, "d@x.cn", A, now).is_err());
    }

    #[test]
    fn the_account_bucket_catches_guesses_from_many_addresses() {
        let (l, now) = (limiter(), Instant::now());
        for i in 0..6u8 {
            fail(&l, "a@x.cn", IpAddr::from([10, 0, 1, i]), now).unwrap();
        }
        assert!(fail(&l, "a@x.cn", IpAddr::from([10, 0, 2, 1]), now).is_err());
    }

    #[test]
    fn successes_give_their_tries_back_and_time_refills() {
        let (l, now) = (limiter(), Instant::now());
        for _ in 0..20 {
            l.begin_at("a@x.cn", Some(A), now).unwrap().give_back();
        }
        for _ in 0..3 {
            fail(&l, "a@x.cn", A, now).unwrap();
        }
        assert!(fail(&l, "a@x.cn", A, now).is_err());
        fail(&l, "a@x.cn", A, now + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn memory_stays_bounded_under_distinct_accounts_and_addresses() {
        let (l, now) = (limiter(), Instant::now());
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            let at = now + Duration::from_millis(u64::from(i));
            fail(&l, &format!("u{i}@x.cn"), ip, at).unwrap();
            assert!(l.len() <= 100, "{} buckets after {i}", l.len());
        }
        // The newest attempts are still counted.
        let last = IpAddr::from(9_999u32.to_be_bytes());
        let at = now + Duration::from_millis(9_999);
        fail(&l, "u9999@x.cn", last, at).unwrap();
        fail(&l, "u9999@x.cn", last, at).unwrap();
        assert!(fail(&l, "u9999@x.cn", last, at).is_err());
    }
}
